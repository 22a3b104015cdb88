import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by an adversarial review. replay treats an account that left `users:`/`users_file` as
 * no longer authenticated ("account no longer configured": it loses everything), but an account
 * whose backend the new config no longer has at all (`ldap_auth` removed, say in a move to
 * `oidc_auth` done in two steps) is re-decided by the ACL as if it still logged in. The token
 * endpoint answers every such login 401 (no backend knows the account), so all of the
 * directory's users lose access; replay says "no decision changes", exit 0, for every decision
 * no rule on labels makes (`${account}/**`, `account: /.+/`).
 */
const tmp = tempDir('regauth-review-tools6-backend-');
afterAll(() => tmp.cleanup());

let audit = '';
let newFile = '';

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  // The new config: static users only; ldap_auth is gone.
  newFile = join(tmp.dir, 'new.yml');
  writeFileSync(
    newFile,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.test]}
users:
  alice: {password: "${hash('alice-pw-1')}"}
acl:
  - match: {account: "/.+/", name: "\${account}/**"}
    actions: [pull, push]
    comment: own namespace
`,
  );
  // Recorded while ldap_auth was configured: dave, a directory account, pulled his own repository.
  audit = join(tmp.dir, 'audit.log');
  writeFileSync(
    audit,
    `${JSON.stringify({
      level: 30,
      time: '2026-12-03T10:00:00.000Z',
      app: 'regauth',
      requestId: 'r1',
      method: 'GET',
      client: { ip: '10.0.0.1', via: null },
      outcome: 'granted',
      status: 200,
      grant: 'password',
      service: 'registry.test',
      account: 'dave',
      requested: ['repository:dave/app:pull'],
      authenticator: 'ldap_auth',
      granted: ['repository:dave/app:pull'],
      decisions: [
        { scope: 'repository:dave/app:pull', granted: ['pull'], rule: 0, comment: 'own namespace' },
      ],
      ms: 1,
      msg: 'token issued',
    })}\n`,
  );
});

test('the new config cannot log dave in: check says no backend holds him (sanity)', async () => {
  const run = await regauth([
    'check',
    '-c',
    newFile,
    '--account',
    'dave',
    '--scope',
    'repository:dave/app:pull',
  ]);
  expect(run.stderr).toContain('"dave" is not in users: or users_file, and no other backend is configured');
});

test('replay: an account whose backend is gone loses access, as one gone from users: does', async () => {
  const run = await regauth(['replay', '--audit', audit, '-c', newFile, '--json']);
  const report = JSON.parse(run.stdout) as { changes: { account: string; lost: string[] }[] };
  expect(report.changes.map((c) => [c.account, c.lost])).toEqual([['dave', ['pull']]]);
  expect(run.code).toBe(1);
});
