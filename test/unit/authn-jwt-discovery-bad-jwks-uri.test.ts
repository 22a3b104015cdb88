/**
 * Found by a review of jwt_auth: an issuer whose discovery document answers, but with a
 * `jwks_uri` that is no absolute URL (a relative path such as "/jwks", a number, text), is a
 * failed discovery: 503, and, as docs/backends/ci-identity.md promises, "a failed discovery or
 * key set fetch is answered so for 5 s before the issuer is asked again, so tokens naming it
 * cannot make regauth ask a down issuer per request". `new URL(jwksUri)` threw a TypeError, no
 * BackendUnavailableError, so the pause did not remember it: every token naming the issuer
 * (forged ones too, which the lockout leaves alone) fetched the discovery document again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, SignJWT } from 'jose';
import { afterEach, expect, test, vi } from 'vitest';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';

const servers: Server[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** An issuer on 127.0.0.1 whose discovery document names `jwksUri`; how often it was asked. */
async function issuerPublishing(jwksUri: unknown) {
  const asked = { count: 0 };
  let url = '';
  const server = createServer((_req, res) => {
    asked.count += 1;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ issuer: url, jwks_uri: jwksUri }));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, asked };
}

test.each([
  ['a relative path', '/.well-known/jwks.json'],
  ['text that is no URL', 'keys'],
  ['a number', 42],
])(
  'a discovery document whose jwks_uri is %s is asked once per pause, not once per token',
  async (_what, jwksUri) => {
    const { url, asked } = await issuerPublishing(jwksUri);
    const authn = new JwtAuthenticator(
      jwtAuthSchema.parse({ issuers: [{ issuer: url, audience: 'a' }], timeout: 1 }),
    );
    // A forged token naming the issuer: anyone can make one, and the lockout does not slow them.
    const forged = await new SignJWT({ iss: url, aud: 'a', sub: 'acme' })
      .setProtectedHeader({ alg: 'ES256', kid: 'x' })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign((await generateKeyPair('ES256')).privateKey);
    let t = Date.UTC(2026, 0, 1);
    vi.spyOn(Date, 'now').mockImplementation(() => t);
    for (let i = 0; i < 10; i++) {
      await expect(
        authn.authenticate({ account: 'acme', password: new Secret(forged) }),
      ).rejects.toBeInstanceOf(BackendUnavailableError);
      t += 100; // ten tokens within one second, well inside the 5 s pause
    }
    expect(asked.count).toBe(1);
  },
);
