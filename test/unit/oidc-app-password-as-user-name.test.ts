import { expect, test } from 'vitest';
import { issueAppPassword } from '../../src/oidc/app-password.js';
import { basic } from '../helpers/fixtures.js';
import { useOidcServer } from '../helpers/test-provider.js';

/**
 * An app password typed (pasted) into docker login's Username prompt, the usual slip with a
 * copy-and-paste credential: the request is refused, and its audit line wrote the app password
 * whole as `account` (about 250 characters for a short account without labels, within the
 * 256-character rule for names), next to "app password of another account". Found by a review.
 */
const t = useOidcServer({
  config: ({ keyPath, certPath, secretFile }) => `server:
  addr: "127.0.0.1:0"
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [registry.example]
oidc_auth:
  issuer: http://127.0.0.1:9
  client_id: regauth
  redirect_url: https://auth.example/oidc/callback
  registry_url: registry.example
  user_claim: sub
  secret_file: ${secretFile}
`,
});

const auth = (user: string, password: string) =>
  fetch(`${t.url}/auth?service=registry.example`, { headers: { authorization: basic(user, password) } });

test('an app password sent as the user name is not written to the log', async () => {
  const cfg = t.runtime.config.oidc_auth!;
  const appPassword = (
    await issueAppPassword(cfg, 'u4711', {}, Math.floor(Date.now() / 1000))
  ).password.reveal();
  expect(appPassword.length).toBeLessThanOrEqual(256);
  // It works as the password of its account.
  expect((await auth('u4711', appPassword)).status).toBe(200);
  const before = t.logs.length;
  // Pasted at the Username prompt too (and at the Password prompt): refused, as it should be.
  expect((await auth(appPassword, appPassword)).status).toBe(401);
  expect((await auth(appPassword, 'x')).status).toBe(401);
  // A JSON Web Token (a CI identity token) short enough to pass as a name: the same.
  const jwt = `eyJhbGciOiJFUzI1NiJ9.${Buffer.from('{"sub":"ci"}').toString('base64url')}.${'s'.repeat(86)}`;
  expect((await auth(jwt, 'x')).status).toBe(401);
  const lines = t.logs.slice(before);
  expect(lines.filter((line) => line.includes(appPassword) || line.includes(jwt))).toEqual([]);
  // The lines are there, and say what was sent in the name's place.
  const accounts = lines.map((l) => (JSON.parse(l) as { account?: string }).account);
  expect(accounts).toEqual([
    '(a token sent as the user name)',
    '(a token sent as the user name)',
    '(a token sent as the user name)',
  ]);
});

// regauth's own refresh token (a JWE of five parts, the second empty; 249 characters for a short
// account and service) and a JWT with base64 padding were still logged whole. Found by a review.
test('other token shapes sent as the user name are not written to the log', async () => {
  const b64 = (text: string) => Buffer.from(text).toString('base64url');
  const jwe = `${b64('{"alg":"dir","enc":"A256GCM","typ":"regauth-refresh+jwt"}')}..6fxBgbfBezHHi4gr.${'q'.repeat(120)}.5XWdck38Bvwr_jt9Prwotg`;
  const padded = `${Buffer.from('{"alg":"HS256"}').toString('base64')}.${Buffer.from('{"sub":"ci"}').toString('base64')}.${'A'.repeat(42)}=`;
  const before = t.logs.length;
  for (const name of [jwe, padded]) expect((await auth(name, 'x')).status).toBe(401);
  const lines = t.logs.slice(before);
  expect(lines.filter((line) => line.includes(jwe) || line.includes(padded))).toEqual([]);
  expect(lines.map((l) => (JSON.parse(l) as { account?: string }).account)).toEqual([
    '(a token sent as the user name)',
    '(a token sent as the user name)',
  ]);
});

test('ordinary names, dotted ones included, are logged as typed', async () => {
  const before = t.logs.length;
  for (const name of ['john.q.public', 'a.b.c', 'eyJ']) expect((await auth(name, 'x')).status).toBe(401);
  expect(t.logs.slice(before).map((l) => (JSON.parse(l) as { account?: string }).account)).toEqual([
    'john.q.public',
    'a.b.c',
    'eyJ',
  ]);
});
