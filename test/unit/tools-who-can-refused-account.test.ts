import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { basic, hash, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review. docs/cli.md "`regauth who-can`": "It uses the config's compiled ACL, so its answers are the ones
 * `check` and the server give." A `users:` account whose name the token endpoint refuses
 * (docs/http-api.md "Account names": whitespace, invisible characters) can never get a token:
 * the server answers 400, `check` refuses the name (exit 2), `test` says "decided by the token
 * endpoint: 400 invalid account name". who-can still lists it among the static accounts a rule
 * grants, and prints the name raw: `admin\u3164` (a Hangul filler, invisible) reads as `admin`.
 */
const tmp = tempDir('regauth-whocan-name-');
const password = 'pw-refused-name';
let srv: TestServer;
let configFile = '';

beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: (
      k,
    ) => `token: {issuer: acme, key: ${k.keyPath}, certificate: ${k.certPath}, services: [registry.test]}
users:
  "bob smith": {password: "${hash(password)}"}
  "admin\\u3164": {password: "${hash(password)}"}
acl:
  - match: {account: "/.+/", name: "prod/**"}
    actions: [pull, push]
`,
  });
  configFile = join(tmp.dir, 'config.yml');
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

test('the token endpoint refuses both accounts (sanity)', async () => {
  for (const account of ['bob smith', 'admin\u3164']) {
    const res = await fetch(`${srv.url}/auth?service=registry.test&scope=repository:prod/api:push`, {
      headers: { authorization: basic(account, password) },
    });
    await res.arrayBuffer();
    expect(res.status).toBe(400);
  }
});

test('who-can lists no account the token endpoint refuses', async () => {
  const run = await regauth(['who-can', 'repository:prod/api:push', '-c', configFile, '--json']);
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as { rules: { accounts: { account: string }[] }[] };
  const listed = report.rules.flatMap((r) => r.accounts.map((a) => a.account));
  expect(listed).not.toContain('bob smith');
  expect(listed).not.toContain('admin\u3164');
});

test('who-can text never prints an invisible-character name so that it reads as another account', async () => {
  const run = await regauth(['who-can', 'repository:prod/api:push', '-c', configFile]);
  expect(run.stdout).not.toContain('admin\u3164');
});

test('who-can names them apart, escaped, as accounts that can never log in', async () => {
  const run = await regauth(['who-can', 'repository:prod/api:push', '-c', configFile]);
  expect(run.stdout).toContain('static accounts that can never log in');
  expect(run.stdout).toContain('"admin\\u3164"');
  const json = JSON.parse(
    (await regauth(['who-can', 'repository:prod/api:push', '-c', configFile, '--json'])).stdout,
  ) as { refusedNames: string[] };
  expect(json.refusedNames.sort()).toEqual(['admin\u3164', 'bob smith']);
});
