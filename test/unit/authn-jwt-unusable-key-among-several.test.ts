/**
 * Found by a review of jwt_auth: when several keys of an issuer's JWKS fit a token's header (no
 * `kid`, or one `kid` published for an old and a new key), the first that could not be used (a
 * legacy RSA key under 2048 bits, which jose refuses with a TypeError) ended the search: the
 * token was refused ("the key it names cannot be used") though the next key, which signed it,
 * verifies it; listed the other way round the same token logged in. docs/backends/ci-identity.md
 * promises that up to 4 fitting keys are tried. A key that verifies the signature still decides:
 * its token's claims are not tried against the next key.
 */
import { generateKeyPairSync } from 'node:crypto';
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

/** A legacy 1024-bit RSA public key, as a JWK (jose's own generateKeyPair refuses to make one). */
async function legacyRsa(): Promise<JWK> {
  return { ...(await exportJWK(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey)), use: 'sig' };
}

async function currentRsa(): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), use: 'sig' } };
}

async function login(url: string, header: { alg: string; kid?: string }, key: CryptoKey, lifetime = 300) {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ iss: url, aud: 'registry.test', sub: 'acme', exp: now + lifetime })
    .setProtectedHeader(header)
    .sign(key);
  const authn = new JwtAuthenticator(
    jwtAuthSchema.parse({ issuers: [{ issuer: url, audience: 'registry.test', jwks_uri: `${url}/jwks` }] }),
  );
  return authn.authenticate({ account: 'acme', password: new Secret(token) });
}

test('a token without a kid, signed with the second of two RSA keys, logs in though the first is a legacy one', async () => {
  const current = await currentRsa();
  const url = await issuerWith([await legacyRsa(), current.jwk]);
  expect(await login(url, { alg: 'RS256' }, current.privateKey)).toMatchObject({ outcome: 'authenticated' });
});

test('one kid published for a legacy key and the current one: a token signed with the current one logs in', async () => {
  const current = await currentRsa();
  const url = await issuerWith([
    { ...(await legacyRsa()), kid: 'k1' },
    { ...current.jwk, kid: 'k1' },
  ]);
  expect(await login(url, { alg: 'RS256', kid: 'k1' }, current.privateKey)).toMatchObject({
    outcome: 'authenticated',
  });
});

test('when no fitting key can be used, the token is refused as before', async () => {
  const other = await currentRsa();
  const url = await issuerWith([await legacyRsa(), await legacyRsa()]);
  expect(await login(url, { alg: 'RS256' }, other.privateKey)).toEqual({
    outcome: 'denied',
    reason: 'token rejected: the key it names cannot be used',
  });
});

test('a legacy key beside keys that do not verify: the signature is what failed', async () => {
  const [signer, listed] = [await currentRsa(), await currentRsa()];
  const url = await issuerWith([await legacyRsa(), listed.jwk]);
  expect(await login(url, { alg: 'RS256' }, signer.privateKey)).toEqual({
    outcome: 'denied',
    reason: 'token rejected: ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  });
});

test('the key that verifies decides: an expired token is not tried against the next key', async () => {
  const current = await currentRsa();
  const url = await issuerWith([current.jwk, await legacyRsa(), (await currentRsa()).jwk]);
  expect(await login(url, { alg: 'RS256' }, current.privateKey, -120)).toEqual({
    outcome: 'denied',
    reason: 'token rejected: ERR_JWT_EXPIRED',
  });
});
