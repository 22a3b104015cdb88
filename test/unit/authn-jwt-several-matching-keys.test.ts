/**
 * Found by a review of jwt_auth: a token the issuer really signed, with a key of its JWKS, is refused (401)
 * whenever more than one key of the set fits the token's header.
 *
 * The defect: jose's key-set resolver throws JWKSMultipleMatchingKeys when several keys fit the
 * header (the same `kid` published twice, as an issuer mid-rotation or a Kubernetes API server
 * given the same key twice does; or a token without a `kid` — RFC 7515 makes it optional — and a
 * set of two keys of the token's type). jose leaves it to the caller to try those keys (the error
 * is an async iterator over them); src/authn/jwt/authenticator.ts passes it on as
 * `denied: token rejected: ERR_JWKS_MULTIPLE_MATCHING_KEYS`. The job is refused although its
 * token's signature checks out against a key its issuer publishes, and a fresh fetch of the set
 * does not help (this is not the known "rotation under one kid is picked up within 10 minutes":
 * the set regauth holds already has the right key).
 *
 * What the docs promise (docs/backends/ci-identity.md, "Checks and outcomes"): "Checks: the
 * signature against the issuer's JWKS ...". Nothing says a token is refused because the set holds
 * more than one key that fits it.
 *
 * Suggested fix: on JWKSMultipleMatchingKeys, try each key it yields (jose's documented pattern:
 * `for await (const key of err) { try { return await jwtVerify(token, key, options) } catch (e)
 * { if (e.code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') throw e } }`), bounded to a few keys,
 * and refuse only when none verifies.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterEach, expect, test } from 'vitest';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import { Secret } from '../../src/core/secret.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function issuerWith(keys: JWK[]): Promise<string> {
  const server = createServer((_req, res) =>
    res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys })),
  );
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function esKey(): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' } };
}

async function login(url: string, header: { alg: string; kid?: string }, key: CryptoKey) {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ iss: url, aud: 'registry.test', sub: 'acme', exp: now + 300 })
    .setProtectedHeader(header)
    .sign(key);
  const authn = new JwtAuthenticator(
    jwtAuthSchema.parse({ issuers: [{ issuer: url, audience: 'registry.test', jwks_uri: `${url}/jwks` }] }),
  );
  return authn.authenticate({ account: 'acme', password: new Secret(token) });
}

test('the same kid published for the old and the new key: a token signed with the new one logs in', async () => {
  const old = await esKey();
  const next = await esKey();
  const url = await issuerWith([
    { ...old.jwk, kid: 'signing' },
    { ...next.jwk, kid: 'signing' },
  ]);
  expect(await login(url, { alg: 'ES256', kid: 'signing' }, next.privateKey)).toMatchObject({
    outcome: 'authenticated',
  });
});

test('a token without a kid (optional in a JWS) signed with one of the two published keys logs in', async () => {
  const a = await esKey();
  const b = await esKey();
  const url = await issuerWith([
    { ...a.jwk, kid: 'a' },
    { ...b.jwk, kid: 'b' },
  ]);
  expect(await login(url, { alg: 'ES256' }, b.privateKey)).toMatchObject({ outcome: 'authenticated' });
});
