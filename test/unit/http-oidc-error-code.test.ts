import { expect, test } from 'vitest';
import { useOidcServer } from '../helpers/test-provider.js';

/**
 * docs/backends/oidc.md "The login cookie" (provider errors): nobody can put words of their
 * choosing on the sign-in origin. The page showed any `error=` of a code's shape (letters,
 * digits, `_`, `.`, `-`, 64), so a link's author wrote sentences and host names with `_`, `.` and
 * `-` for spaces. Now only the codes OAuth 2.0 and OpenID Connect define are shown. No provider
 * is needed: the error branch runs before discovery and without a login cookie. Found by a
 * review.
 */
const t = useOidcServer({
  config: ({ keyPath, certPath, secretFile }) => `server:
  addr: "127.0.0.1:0"
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
oidc_auth:
  issuer: http://127.0.0.1:9
  client_id: x
  redirect_url: https://auth.example/oidc/callback
  registry_url: registry.example
  secret_file: ${secretFile}
`,
});

test.each([
  ['a phone number', 'Account_locked.Call_555-0100_now', '555-0100'],
  ['a host name to visit', 'session_expired.re-verify_at.evil-example.com', 'evil-example.com'],
])('an error= link carrying %s puts none of its words on the sign-in origin', async (_n, error, words) => {
  const res = await fetch(`${t.url}/oidc/callback?error=${encodeURIComponent(error)}&state=x`);
  expect(res.status).toBe(400);
  expect(await res.text()).not.toContain(words);
});
