import { expect, test } from 'vitest';
import { LoginRefusedError } from '../../src/oidc/login.js';
import { signInThrough, useOidcServer } from '../helpers/test-provider.js';

/**
 * Found by a review of the HTTP endpoints: when the identity provider refuses regauth's code exchange, the
 * operator is told nothing about why. src/oidc/login.ts `translate` turns every OAuth error answer
 * of the token endpoint (invalid_client: a client secret rotated at the provider; invalid_grant:
 * a stale or replayed code; unauthorized_client, redirect_uri mismatch...) into one
 * BadRequestError('the login could not be completed; sign in again') without its cause, and
 * src/http/oidc.ts `fail` logs a RegauthError's message only (`err: undefined`). So a
 * misconfigured client secret, which fails every login of every user, shows in the log exactly as
 * a user replaying an old link does: `oidc callback failed`, status 400, that same sentence, at
 * info level. The provider's error code is not the client's text (it comes from the token
 * endpoint's answer), so it can be logged safely.
 * Fix: keep the OAuth `error` code (and the HTTP status) of the provider's answer on the error
 * (cause or a field), and have `fail` log it, e.g. `providerError: "invalid_client"`.
 */
const CALLBACK = 'https://auth.example/regauth/oidc/callback';
const t = useOidcServer({
  callback: CALLBACK,
  config: ({ keyPath, certPath, secretFile }) => `server: {addr: "127.0.0.1:0", path_prefix: /regauth}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.example]}
oidc_auth:
  issuer: ${t.provider.url}
  client_id: ${t.provider.clientId}
  client_secret: not-the-secret-the-provider-holds
  user_claim: sub
  redirect_url: ${CALLBACK}
  registry_url: registry.example
  secret_file: ${secretFile}
acl: []
`,
});

test('a login the provider refuses for a wrong client secret is logged with the provider error code', async () => {
  const before = t.logs.length;
  const res = await signInThrough(t.provider, t.url, CALLBACK, '/regauth/oidc/login', 'alice');
  await res.text();
  expect(res.status).toBe(400);
  const lines = t.logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
  const failed = lines.find((l) => l['msg'] === 'oidc callback failed');
  expect(failed).toBeDefined();
  // The operator must be able to tell a misconfigured client from a stale link.
  expect(JSON.stringify(failed)).toContain('invalid_client');
});

test('the log line carries the provider error and its status, at warn level for a client the provider refuses', async () => {
  const before = t.logs.length;
  const res = await signInThrough(t.provider, t.url, CALLBACK, '/regauth/oidc/login', 'alice');
  await res.text();
  const failed = t.logs
    .slice(before)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l['msg'] === 'oidc callback failed');
  expect(failed).toMatchObject({
    level: 40,
    status: 400,
    provider: { error: 'invalid_client', status: 401 },
  });
});

test('an error code a browser wrote into the callback is logged only as an OAuth error code', () => {
  expect(new LoginRefusedError({ error: 'access_denied' }).provider).toEqual({ error: 'access_denied' });
  expect(new LoginRefusedError({ error: 'x\n{"forged":1}' }).provider).toEqual({
    error: '(not an OAuth error code)',
  });
  expect(new LoginRefusedError({ error: 'a'.repeat(65) }).provider).toEqual({
    error: '(not an OAuth error code)',
  });
  expect(new LoginRefusedError({ check: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' }).provider).toEqual({
    check: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  });
});
