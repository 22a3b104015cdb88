import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, expect, test, vi } from 'vitest';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { HUGE_BYTES, writeHuge } from '../helpers/huge-answer.js';

// How an issuer's key set (JWKS) is fetched: a key set that cannot be fetched is answered so for a
// few seconds (docs/backends/ci-identity.md: tokens naming a down issuer cannot make regauth ask it
// per request), and its size is bounded. Found by a review: jose pauses only after a fetch that
// worked, so every token naming a down issuer (a forged one too: the lockout leaves them alone)
// asked it again; and a JWKS of any size was read whole.

const servers: Server[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** A JWKS server: `answer` writes each reply; the count of requests it got. */
async function jwksServer(answer: (res: ServerResponse) => void) {
  const asked = { count: 0 };
  const server = createServer((_req, res) => {
    asked.count += 1;
    answer(res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, asked };
}

async function keyPair() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' }] });
  return { privateKey, jwks };
}

function authenticator(url: string) {
  return new JwtAuthenticator(
    jwtAuthSchema.parse({ issuers: [{ issuer: url, audience: 'a', jwks_uri: `${url}/jwks` }], timeout: 1 }),
  );
}

const sign = (key: Parameters<SignJWT['sign']>[0], url: string, kid: string, now = Date.now()) =>
  new SignJWT({ iss: url, aud: 'a', sub: 'acme' })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.floor(now / 1000) + 3600)
    .sign(key);

test.each([
  ['is down (500)', (res: ServerResponse) => res.writeHead(500).end('down')],
  // Refused by jose after the custom fetch returned, it was asked again per token. Found by a
  // review of the change that made the pause.
  [
    'answers JSON that is not a key set',
    (res: ServerResponse) => res.setHeader('content-type', 'application/json').end('{"keys":"nope"}'),
  ],
  // The fetch's timeout (1 s here) is an outage too, however jose would name it.
  ['never answers', () => undefined],
])('tokens naming an issuer whose JWKS %s ask it once per pause, not once each', async (_what, answer) => {
  const { url, asked } = await jwksServer(answer);
  const authn = authenticator(url);
  const forged = await sign((await keyPair()).privateKey, url, 'x');
  for (let i = 0; i < 10; i++) {
    await expect(
      authn.authenticate({ account: 'acme', password: new Secret(forged) }),
    ).rejects.toBeInstanceOf(BackendUnavailableError);
  }
  expect(asked.count).toBe(1);
});

test('a JWKS gone down after it was fetched is asked once per pause, and keys still cached still work', async () => {
  const { privateKey, jwks } = await keyPair();
  let up = true;
  const { url, asked } = await jwksServer((res) =>
    up ? res.setHeader('content-type', 'application/json').end(jwks) : res.writeHead(500).end(),
  );
  let now = Math.floor(Date.now() / 1000) * 1000;
  vi.spyOn(Date, 'now').mockImplementation(() => now);
  const authn = authenticator(url);
  const login = async (token: string) =>
    authn.authenticate({ account: 'acme', password: new Secret(token) }).catch((e: unknown) => e);
  const token = await sign(privateKey, url, 'k', now);
  expect(await login(token)).toMatchObject({ outcome: 'authenticated' });

  // Down: a forged token with a kid the set lacks asks once; the cached key goes on working.
  up = false;
  asked.count = 0;
  const forged = await sign((await keyPair()).privateKey, url, 'unknown', now);
  now += 31_000; // past jose's cooldown, so an unknown kid may ask again
  for (let i = 0; i < 5; i++) expect(await login(forged)).toBeInstanceOf(BackendUnavailableError);
  expect(await login(token)).toMatchObject({ outcome: 'authenticated' });
  expect(asked.count).toBe(1);

  // Past the key set's age the cached keys no longer answer: one ask per pause, not per token.
  now += 11 * 60_000;
  for (let i = 0; i < 10; i++) expect(await login(token)).toBeInstanceOf(BackendUnavailableError);
  expect(asked.count).toBe(2);
  now += 6_000;
  up = true;
  expect(await login(token)).toMatchObject({ outcome: 'authenticated' });
  expect(asked.count).toBe(3);
});

/** A server answering 64 MiB of spaces, then `end`; how much of it was written so far. */
async function hugeAnswer(end: string) {
  const written = { bytes: 0 };
  const server = await jwksServer((res) => writeHuge(res, end, written));
  return { url: server.url, written };
}

test('a JWKS larger than 1 MiB is refused, not read whole', async () => {
  const { privateKey, jwks } = await keyPair();
  const { url, written } = await hugeAnswer(jwks);
  const result = await authenticator(url)
    .authenticate({ account: 'acme', password: new Secret(await sign(privateKey, url, 'k')) })
    .catch((e: unknown) => e);
  expect(result).toBeInstanceOf(BackendUnavailableError);
  // It stopped reading: the server did not get to write all 64 MiB.
  expect(written.bytes).toBeLessThan(HUGE_BYTES);
});

// Found by a review of the change above.

test('a JWKS that starts with a UTF-8 BOM still logs in, as with fetch’s own reading', async () => {
  const { privateKey, jwks } = await keyPair();
  const { url } = await jwksServer((res) =>
    res
      .setHeader('content-type', 'application/json')
      .end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(jwks)])),
  );
  const result = await authenticator(url)
    .authenticate({ account: 'acme', password: new Secret(await sign(privateKey, url, 'k')) })
    .catch((e: unknown) => e);
  expect(result).toMatchObject({ outcome: 'authenticated' });
});

test('an issuer’s discovery document larger than 1 MiB is refused, not read whole', async () => {
  // The discovery document came through openid-client's own fetch, read whole whatever its size.
  const { url, written } = await hugeAnswer('{}');
  const discovered = new JwtAuthenticator(
    jwtAuthSchema.parse({ issuers: [{ issuer: url, audience: 'a' }], timeout: 2 }),
  );
  const result = await discovered
    .authenticate({
      account: 'acme',
      password: new Secret(await sign((await keyPair()).privateKey, url, 'k')),
    })
    .catch((e: unknown) => e);
  expect(result).toBeInstanceOf(BackendUnavailableError);
  expect(written.bytes).toBeLessThan(HUGE_BYTES);
});
