/**
 * Found by a review (jwt_auth and the credential cache): docs/backends/ci-identity.md promises that keys
 * fetched go on working "for up to 10 minutes after the last fetch of its key set that worked ...;
 * past that, its jobs get 503 until it answers again, so a key the issuer has withdrawn is not
 * trusted for longer". The credential cache in front of jwt_auth ("Tokens of a jwt_auth issuer are
 * answered for anyone") remembers a token verified just before that limit for up to
 * credential_cache.ttl (5 min by default) more, without asking jwt_auth: a token signed with a key
 * the issuer withdrew (or an issuer that went down) is still accepted long past the 10 minutes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterEach, expect, test, vi } from 'vitest';
import { CachedAuthenticator, CredentialCache } from '../../src/authn/cache.js';
import { authenticate } from '../../src/authn/chain.js';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import type { PasswordVerifier } from '../../src/authn/password.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';

let server: Server | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

/** No password comparison is spent on a claimed credential; this one must never be asked. */
const verifier = {
  verify: () => Promise.reject(new Error('not asked')),
  burn: () => Promise.resolve(),
} as unknown as PasswordVerifier;

async function keyPair(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

const sign = (key: CryptoKey, url: string, kid: string, nowMs: number) =>
  new SignJWT({ iss: url, aud: 'a', sub: 'acme' })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuedAt(Math.floor(nowMs / 1000))
    .setExpirationTime(Math.floor(nowMs / 1000) + 3600)
    .sign(key);

async function setup() {
  const old = await keyPair('old');
  const next = await keyPair('next');
  const state = { keys: [old.jwk] as object[], up: true };
  server = createServer((_req, res) => {
    if (!state.up) return void res.writeHead(500).end();
    res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let now = Math.floor(Date.now() / 1000) * 1000;
  vi.spyOn(Date, 'now').mockImplementation(() => now);
  const cache = new CredentialCache({ ttlMs: 5 * 60_000, maxEntries: 100, now: () => now });
  const jwt = new JwtAuthenticator(
    jwtAuthSchema.parse({ issuers: [{ issuer: url, audience: 'a', jwks_uri: `${url}/jwks` }], timeout: 1 }),
  );
  const chain = [new CachedAuthenticator(jwt, cache, () => 'generation')];
  const login = (token: string) =>
    authenticate(chain, { account: 'acme', password: new Secret(token) }, verifier).catch((e: unknown) => e);
  return {
    url,
    old,
    next,
    state,
    login,
    at: (ms: number) => (now = ms),
    get now() {
      return now;
    },
  };
}

test('a token signed with a key the issuer withdrew is refused once the key set is 10 minutes old', async () => {
  const t = await setup();
  const t0 = t.now;
  const token = await sign(t.old.privateKey, t.url, 'old', t0);
  expect(await t.login(token)).toMatchObject({ outcome: 'authenticated' }); // the key set is fetched at t0

  // The issuer withdraws the old key a minute later (rotation after a leak).
  t.state.keys = [t.next.jwk];
  // Just before the set is 10 minutes old the job logs in again: still trusted, as documented.
  t.at(t0 + 9 * 60_000 + 50_000);
  expect(await t.login(token)).toMatchObject({ outcome: 'authenticated' });

  // Past 10 minutes the set is fetched again, and the old key is gone: a token of that key that
  // jwt_auth checks is refused...
  t.at(t0 + 12 * 60_000);
  const another = await sign(t.old.privateKey, t.url, 'old', t0 + 12 * 60_000);
  expect(await t.login(another)).toMatchObject({ outcome: 'denied' });
  // ...and so must be the token verified at 9:50 with the same withdrawn key.
  expect(await t.login(token)).toMatchObject({ outcome: 'denied' });
});

test('an issuer down for more than 10 minutes after its last fetch gives its jobs 503', async () => {
  const t = await setup();
  const t0 = t.now;
  const token = await sign(t.old.privateKey, t.url, 'old', t0);
  expect(await t.login(token)).toMatchObject({ outcome: 'authenticated' });
  t.state.up = false;
  t.at(t0 + 9 * 60_000 + 50_000);
  expect(await t.login(token)).toMatchObject({ outcome: 'authenticated' }); // cached keys, as documented
  t.at(t0 + 12 * 60_000);
  // A token jwt_auth has to check: 503, as documented.
  const another = await sign(t.old.privateKey, t.url, 'old', t0 + 12 * 60_000);
  expect(await t.login(another)).toBeInstanceOf(BackendUnavailableError);
  // The same job's token, verified at 9:50: "past that, its jobs get 503".
  expect(await t.login(token)).toBeInstanceOf(BackendUnavailableError);
});
