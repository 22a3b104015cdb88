import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { InvalidGrantError, UnauthorizedError } from '../../src/core/errors.js';
import { issueToken } from '../../src/pipeline/pipeline.js';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import { issueAppPassword } from '../../src/oidc/app-password.js';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

// A registry-page session stands in for credentials (redeemSession): it is held to the token
// endpoint's rule for account names as a login is. Found by a review: a session naming
// `admin\u200b` issued tokens, ran ext_authz and wrote log lines for a name that looks like admin.

const NOW = 1_800_000_000;
const tmp = tempDir();
let runtime: Runtime;
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const secret = join(tmp.dir, 'oidc.key');
  writeFileSync(secret, randomBytes(48).toString('base64'));
  const yaml = `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\noidc_auth:\n  issuer: https://idp.example\n  client_id: c\n  redirect_url: https://auth.example/oidc/callback\n  registry_url: reg.example\n  secret_file: ${secret}\nacl:\n  - match: {account: "/.+/"}\n    actions: [pull]\n`;
  runtime = createRuntime(loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') }));
});
afterAll(() => tmp.cleanup());

function withSession(account: string) {
  const request = parseTokenRequest({
    method: 'GET',
    query: 'service=reg&scope=repository:app:pull',
    authorization: undefined,
  });
  return issueToken(runtime, request, { ip: null, now: NOW + 60 }, { account, labels: {}, issuedAt: NOW });
}

test('a session for a valid name issues its token', async () => {
  expect(await withSession('alice')).toMatchObject({ account: 'alice', authenticatedBy: 'oidc_auth' });
});

test.each([['alice smith'], ['admin\u200b'], ['admin\u202egpj'], ['admin\u3164'], ['a'.repeat(300)]])(
  'a session naming %j is refused',
  async (account) => {
    const err = await withSession(account).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnauthorizedError);
    expect((err as UnauthorizedError).decision).toMatchObject({
      reason: 'session refused: invalid account name',
    });
  },
);

test('behind ldap_auth binding as the user, an app password’s refresh token is passed over; a session is refused', async () => {
  // docs/http-api.md "The refresh grant" step 3 and docs/security.md: a backend that cannot be
  // asked about an account without its password is passed over by the refresh grant, while the
  // registry page's session is refused behind it. (A review found the docs named ext_auth only.)
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const secret = (name: string) => {
    const file = join(tmp.dir, name);
    writeFileSync(file, randomBytes(48).toString('base64'));
    return file;
  };
  const refreshSecret = secret('refresh.key');
  const oidcSecret = secret('oidc2.key');
  const build = (ldap: boolean) =>
    createRuntime(
      loadConfigText(
        `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n  refresh:\n    secret_file: ${refreshSecret}\n` +
          (ldap
            ? `ldap_auth:\n  addr: "127.0.0.1:9"\n  initial_bind_as_user: true\n  bind_dn: "uid=\${account},ou=people,dc=example,dc=org"\n  base: "dc=example,dc=org"\n  filter: "(uid=\${account})"\n`
            : '') +
          `oidc_auth:\n  issuer: https://idp.example\n  client_id: c\n  redirect_url: https://auth.example/oidc/callback\n  registry_url: reg.example\n  secret_file: ${oidcSecret}\nacl:\n  - match: {account: "/.+/"}\n    actions: [pull]\n`,
        { file: join(tmp.dir, 'config.yml') },
      ),
    );
  const before = build(false);
  const appPassword = await issueAppPassword(before.config.oidc_auth!, 'alice', {}, NOW);
  const login = await issueToken(
    before,
    parseTokenRequest({
      method: 'GET',
      query: 'service=reg&offline_token=true',
      authorization: basic('alice', appPassword.password.reveal()),
    }),
    { ip: null, now: NOW },
  );
  const after = build(true);
  const refreshed = await issueToken(
    after,
    parseTokenRequest({
      method: 'POST',
      query: '',
      authorization: undefined,
      body: `grant_type=refresh_token&refresh_token=${login.refreshToken!.reveal()}&service=reg`,
    }),
    { ip: null, now: NOW + 60 },
  );
  expect(refreshed).toMatchObject({ account: 'alice', authenticatedBy: 'oidc_auth' });
  const session = await issueToken(
    after,
    parseTokenRequest({ method: 'GET', query: 'service=reg', authorization: undefined }),
    { ip: null, now: NOW + 60 },
    { account: 'alice', labels: {}, issuedAt: NOW },
  ).catch((e: unknown) => e);
  expect(session).toBeInstanceOf(UnauthorizedError);
});

test('a refresh token naming an account the rule refuses is refused, as a session is', async () => {
  // Found by a review of 4a618d4: one issued before a name was refused (admin\u3164, a static user)
  // kept getting tokens for the invisible name, with `expiration: 0` for ever.
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const secretFile = join(tmp.dir, 'refresh-names.key');
  writeFileSync(secretFile, randomBytes(48).toString('base64'));
  const rt = createRuntime(
    loadConfigText(
      `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n  refresh:\n    secret_file: ${secretFile}\nusers:\n  "admin\\u3164":\n    password: "${hash(randomPassword())}"\nacl:\n  - match: {account: "/.+/"}\n    actions: [pull]\n`,
      { file: join(tmp.dir, 'config.yml') },
    ),
  );
  const users = rt.authenticators.find((a) => a.lookup)!;
  const found = await users.lookup!('admin\u3164');
  // What docker login got while the name was accepted.
  const refreshToken = await rt.refresh!.issue(
    { account: 'admin\u3164', service: 'reg', authenticator: users.name, fingerprint: found!.fingerprint },
    NOW - 60,
  );
  const body = `grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshToken.reveal())}&service=reg`;
  const err = await issueToken(
    rt,
    parseTokenRequest({ method: 'POST', query: '', authorization: undefined, body }),
    {
      ip: null,
      now: NOW,
    },
  ).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidGrantError);
  expect((err as Error).message).toBe('refresh token revoked: invalid account name');
});
