import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { decodeJwt } from 'jose';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by an adversarial review of 8226e7f ("Name in who-can only the backends that can log in
 * a rule's accounts").
 *
 * For a rule on `account: ""` who-can now names ext_auth alone, "the one that logs in a request
 * without credentials" (backendsFor). That holds only when no static backend holds `""`: the
 * chain asks users/users_file first, and a `""` entry answers every request without credentials
 * (`"": {}` logs it in; `"": {password: …}` refuses it), so ext_auth is never asked. With the
 * documented anonymous entry `users: {"": {}}` next to ext_auth, who-can still says
 * "ext_auth accounts: anonymous requests; label tier = gold (from ext_auth)" under a rule that
 * grants push to anonymous requests labelled tier=gold: the operator reads that some anonymous
 * request (one ext_auth labels gold) can push public/x. The token endpoint logs every anonymous
 * request in as the static `""` (no labels) and grants it nothing there.
 * Expected: othersFrom empty (others null) for that rule, as for any rule only static accounts
 * can meet; no "ext_auth accounts:" line.
 */
const tmp = tempDir('regauth-review-tools2-anon-ext-');
let s: TestServer;
const configFile = join(tmp.dir, 'config.yml');

beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  "": {}
ext_auth:
  command: ${resolve('test/fixtures/ext/exit.sh')}
  args: ["0", '{"labels":{"tier":["gold"]}}']
acl:
  - match: {account: "", labels: {tier: gold}, name: "public/**"}
    actions: [pull, push]
    comment: gold anonymous requests
  - match: {account: "", name: "public/**"}
    actions: [pull]
`,
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

test('an anonymous request is logged in by users: "" (no labels), never by ext_auth: pull only (sanity)', async () => {
  const res = await fetch(`${s.url}/auth?service=registry&scope=repository:public/x:pull,push`);
  expect(res.status).toBe(200);
  const { token } = (await res.json()) as { token: string };
  expect(decodeJwt(token).access).toEqual([{ type: 'repository', name: 'public/x', actions: ['pull'] }]);
});

test('who-can does not name ext_auth under the rule on account "" when users: holds ""', async () => {
  const run = await regauth(['who-can', 'repository:public/x:push', '-c', configFile, '--json']);
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as {
    rules: { path: string; others: string | null; othersFrom: string[] }[];
  };
  const rule = report.rules.find((r) => r.path === 'acl[0]')!;
  // Today: othersFrom ["ext_auth"], others "anonymous requests; label tier = gold (from …ext_auth)".
  expect(rule.othersFrom).toEqual([]);
  expect(rule.others).toBeNull();
  const text = await regauth(['who-can', 'repository:public/x:push', '-c', configFile]);
  expect(text.stdout).not.toContain('ext_auth accounts:');
});
