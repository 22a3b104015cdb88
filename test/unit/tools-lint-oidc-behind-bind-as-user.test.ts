import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by a review of ldap_auth (note of this stop, and 28af513): with initial_bind_as_user the
 * directory's first bind is as the account, and it refuses an account it does not hold as it
 * refuses a wrong password, so the login ends there (401), as in docker_auth. oidc_auth comes
 * after ldap_auth in the chain: its app passwords are never checked (the directory refuses the
 * bind with them first), and the registry page's sessions are refused too (blindPageSessions).
 * A config with both loaded without a word.
 */
const tmp = tempDir('regauth-lint-oidc-bind-as-user-');
afterAll(() => tmp.cleanup());
let file = '';

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  writeFileSync(join(tmp.dir, 'oidc.secret'), 'x'.repeat(48));
  file = join(tmp.dir, 'config.yml');
  writeFileSync(
    file,
    `token: {issuer: x, key: ${keyPath}, certificate: ${certPath}}
ldap_auth:
  addr: ldap.example.org:389
  initial_bind_as_user: true
  bind_dn: "uid=\${account},ou=people,dc=example,dc=org"
  base: "dc=example,dc=org"
  filter: "(uid=\${account})"
oidc_auth:
  issuer: https://id.example.com
  client_id: regauth
  redirect_url: https://auth.example.com/oidc/callback
  registry_url: registry.example.com
  secret_file: oidc.secret
acl: [{match: {name: "\${account}/*"}, actions: [pull, push]}]
`,
  );
});

test('validate warns that no account logs in through oidc_auth', async () => {
  const run = await regauth(['validate', '-c', file]);
  expect(run.stdout).toContain(
    'warning: oidc_auth: no app password logs in through oidc_auth: ldap_auth (initial_bind_as_user) comes before it and refuses every password it cannot bind with (an account the directory does not hold cannot be told from a wrong password); only refresh tokens of earlier oidc_auth logins still work, until they expire',
  );
  expect(run.code).toBe(1);
});

// who-can still names oidc_auth there: its refresh tokens need no password
// (test/unit/tools-who-can-oidc-refresh-behind-bind-as-user.test.ts).
