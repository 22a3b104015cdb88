import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by an adversarial review of `regauth who-can`.
 *
 * With no `""` entry in `users:`/`users_file` and no `ext_auth`, the token endpoint answers a
 * request without credentials 401: "ldap_auth, oidc_auth and jwt_auth never log in a request
 * without credentials" (docs/cli.md `regauth test`; `check --account ''` says so and exits 1).
 * who-can still reports, under a rule for the anonymous account, that the rule covers
 * "ldap_auth accounts: anonymous requests". Asked "can anyone pull public/x without logging
 * in?", the operator reads: yes, acl[0] grants pull to anonymous requests (through ldap_auth).
 * The endpoint grants them nothing. (The same words appear for oidc_auth and jwt_auth.)
 */
const tmp = tempDir('regauth-review-whocan-anon-');
afterAll(() => tmp.cleanup());
let configFile = '';

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${hash(randomPassword())}"}
ldap_auth:
  addr: ldap.example.test:389
  base: dc=example,dc=test
  filter: (uid=\${account})
acl:
  - match: {account: "", name: "public/**"}
    actions: [pull]
    comment: anonymous pull of public images
`,
  );
});

test('the token endpoint refuses anonymous requests in this config (sanity: check exits 1)', async () => {
  const run = await regauth([
    'check',
    '-c',
    configFile,
    '--account',
    '',
    '--scope',
    'repository:public/x:pull',
  ]);
  expect(run.code).toBe(1);
});

test('who-can does not say ldap_auth accounts include anonymous requests', async () => {
  const json = await regauth(['who-can', 'repository:public/x:pull', '-c', configFile, '--json']);
  expect(json.code).toBe(0);
  const report = JSON.parse(json.stdout) as { rules: { path: string; others: string | null }[] };
  const rule = report.rules.find((r) => r.path === 'acl[0]')!;
  // Today: "anonymous requests". (null, as for a rule naming only static accounts, would do.)
  expect(rule.others).not.toBe('anonymous requests');
  const text = await regauth(['who-can', 'repository:public/x:pull', '-c', configFile]);
  expect(text.stdout).not.toContain('ldap_auth accounts: anonymous requests');
});
