import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review. `regauth test` is "for CI": its expectations are decided "exactly as the token
 * endpoint would". Without a `""` entry in `users:` (and with no other backend), no anonymous
 * request gets a token at all: the endpoint answers 401. `test` still decided the anonymous
 * expectation with the ACL alone, so `expect: [pull]` passed (exit 0) for access nobody anonymous
 * ever gets, and `check --account ''` reported `granted: pull`. (A named account no backend holds
 * is still decided by the ACL, as documented: a policy may name accounts to come.)
 */
const tmp = tempDir('regauth-test-anon-');
let srv: TestServer;
let configFile = '';
let testsFile = '';

beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: (
      k,
    ) => `token: {issuer: acme, key: ${k.keyPath}, certificate: ${k.certPath}, services: [registry.test]}
users:
  alice: {password: "${hash('pw-alice-x')}"}
acl:
  - match: {account: "", name: "public/**"}
    actions: [pull]
  - match: {name: "shared/**"}
    actions: [pull]
`,
  });
  configFile = join(tmp.dir, 'config.yml');
  testsFile = join(tmp.dir, 'policy-tests.yml');
  writeFileSync(
    testsFile,
    `- {account: "", scope: "repository:public/base:pull", expect: [pull]}
- {account: mallory, scope: "repository:shared/x:pull", expect: [pull]}
`,
  );
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

test('the server refuses anonymous requests (sanity)', async () => {
  const res = await fetch(`${srv.url}/auth?service=registry.test&scope=repository:public/base:pull`);
  await res.arrayBuffer();
  expect(res.status).toBe(401);
});

test('regauth test does not pass expectations of access the token endpoint never grants', async () => {
  const run = await regauth(['test', '-c', configFile, testsFile]);
  expect(run.stdout).toContain('(anonymous) repository:public/base:pull: granted [], expected [pull]');
  expect(run.stdout).toContain('anonymous requests get no token');
  expect(run.code).toBe(1);
});

test('regauth check does not report a grant for an anonymous request the endpoint refuses', async () => {
  const run = await regauth([
    'check',
    '-c',
    configFile,
    '--account',
    '',
    '--scope',
    'repository:public/base:pull',
    '--json',
  ]);
  const granted =
    run.stdout.trim() === ''
      ? []
      : (JSON.parse(run.stdout.trim().split('\n')[0]!) as { granted: string[] }).granted;
  expect(granted).toEqual([]);
});
