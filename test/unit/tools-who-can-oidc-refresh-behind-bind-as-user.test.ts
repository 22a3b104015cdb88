/**
 * Found by a review of 8d544d4 ("Warn that oidc_auth logs nobody in behind ldap_auth binding as the user").
 *
 * Defect: who-can now leaves oidc_auth out of every rule whenever ldap_auth has
 * initial_bind_as_user, on the ground that oidc_auth "logs nobody in" there. That holds for
 * password logins (ldap_auth's bind refuses every app password first) and for the registry page's
 * sessions (redeemSession refuses them behind a backend without lookup), but not for refresh
 * tokens: the refresh grant (pipeline.ts redeemRefreshToken -> lookupAccount) passes over
 * ldap_auth, which has no `lookup` with initial_bind_as_user, and oidc_auth's lookup vouches for
 * any account (app passwords are stateless). docs/http-api.md "The refresh grant" says so: such
 * an account "keeps the refresh tokens an ldap_auth or oidc_auth login gave it until they expire".
 *
 * So after the usual migration (oidc_auth alone; then ldap_auth with initial_bind_as_user added),
 * every `docker login` done through oidc_auth (docker stores the refresh token, not the app
 * password) goes on getting push tokens for up to app_password_expiration (30 days by default),
 * while `regauth who-can` -- the audit tool for "who can push here" -- names only ldap_auth under
 * the rule. An audit that under-reports is the dangerous direction.
 *
 * Reference: the token endpoint (startTestServer) redeems such a refresh token for push.
 * Expected: while the endpoint grants it, who-can names oidc_auth under the rule (e.g. for its
 * refresh tokens), or the refresh grant refuses oidc_auth tokens behind a backend that cannot look
 * accounts up, as redeemSession refuses sessions.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { decodeJwt } from 'jose';
import { issueAppPassword } from '../../src/oidc/app-password.js';
import { regauth } from '../helpers/cli.js';
import { basic, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

const tmp = tempDir('regauth-review-r3-oidc-refresh-');
afterAll(() => tmp.cleanup());

const OIDC = `oidc_auth:
  issuer: https://id.example.com
  client_id: regauth
  redirect_url: https://auth.example.com/oidc/callback
  registry_url: registry.example.com
  secret_file: oidc.secret
`;
const LDAP = `ldap_auth:
  addr: 127.0.0.1:1
  initial_bind_as_user: true
  bind_dn: "uid=\${account},ou=people,dc=example,dc=org"
  base: "dc=example,dc=org"
  filter: "(uid=\${account})"
`;
const config =
  (sections: string) =>
  ({ keyPath, certPath }: { keyPath: string; certPath: string }) =>
    `server: {addr: "127.0.0.1:0"}
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  refresh: {secret_file: refresh.key}
${sections}acl: [{match: {name: "\${account}/*"}, actions: [pull, push]}]
`;

test('an oidc_auth refresh token still gets push behind ldap_auth (initial_bind_as_user): who-can must name oidc_auth', async () => {
  writeFileSync(join(tmp.dir, 'oidc.secret'), 'o'.repeat(48));
  writeFileSync(join(tmp.dir, 'refresh.key'), 'r'.repeat(48));

  // Before: oidc_auth alone. alice's `docker login` with her app password stores a refresh token.
  const before = await startTestServer({ dir: tmp.dir, config: config(OIDC) });
  let refreshToken: string;
  try {
    const app = await issueAppPassword(
      before.runtime.config.oidc_auth!,
      'alice',
      {},
      Math.floor(Date.now() / 1000),
    );
    const res = await fetch(`${before.url}/auth?service=registry&client_id=docker&offline_token=true`, {
      headers: { authorization: basic('alice', app.password.reveal()) },
    });
    expect(res.status).toBe(200);
    refreshToken = ((await res.json()) as { refresh_token: string }).refresh_token;
    expect(refreshToken).toBeTruthy();
  } finally {
    await before.server.close(100);
  }

  // After: ldap_auth with initial_bind_as_user added before oidc_auth.
  const after = await startTestServer({ dir: tmp.dir, config: config(LDAP + OIDC) });
  let pushGranted: boolean;
  try {
    const res = await fetch(`${after.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        service: 'registry',
        client_id: 'docker',
        refresh_token: refreshToken,
        scope: 'repository:alice/app:pull,push',
      }),
    });
    const body = (await res.json()) as { access_token?: string; token?: string };
    const token = body.access_token ?? body.token;
    const access = token ? (decodeJwt(token).access as { actions: string[] }[]) : [];
    pushGranted = res.status === 200 && access.some((a) => a.actions.includes('push'));
  } finally {
    await after.server.close(100);
  }

  const run = await regauth([
    'who-can',
    'repository:alice/app:push',
    '-c',
    join(tmp.dir, 'config.yml'),
    '--json',
  ]);
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as { rules: { othersFrom: string[] }[] };
  const named = report.rules.some((r) => r.othersFrom.includes('oidc_auth'));
  // Today: the endpoint grants push to the refresh token (pushGranted true), who-can names
  // ldap_auth alone (named false).
  expect({ pushGranted, named: pushGranted ? named : true }).toEqual({ pushGranted, named: true });
});
