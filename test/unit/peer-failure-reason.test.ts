/**
 * Found by a review of oidc_auth: when an identity provider cannot be reached, the log said only
 * `discovery failed for https://…` (jwt_auth: also `cannot fetch the keys of …`; oidc_auth's login:
 * `the identity provider cannot be reached`), never why: a wrong issuer URL (404), a name that does
 * not resolve, a refused connection and a TLS failure all read the same, and the operator had to
 * reproduce the request by hand to tell them apart. The reason (the peer's HTTP status, or the
 * network error's code) is part of the message now, which the audit line and the reload log carry;
 * the client still gets the generic 503.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, SignJWT } from 'jose';
import { afterEach, expect, test } from 'vitest';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { OidcLogin } from '../../src/oidc/login.js';
import { freePort } from '../e2e/harness/ports.js';
import { oidcLoginConfig } from '../helpers/oidc-login.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** A server on 127.0.0.1 answering every request with `status`, or with `answer`. */
async function peer(
  answer: (url: string, path: string) => { status: number; body?: string },
): Promise<string> {
  let url = '';
  const server = createServer((req, res) => {
    const { status, body } = answer(url, req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' }).end(body ?? 'no');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return url;
}

/** What jwt_auth answers a token naming `issuer` (signed by no key it knows). */
async function jwtFailure(issuer: string): Promise<string> {
  const authn = new JwtAuthenticator(
    jwtAuthSchema.parse({ issuers: [{ issuer, audience: 'a' }], timeout: 2 }),
  );
  const token = await new SignJWT({ iss: issuer, aud: 'a', sub: 'acme' })
    .setProtectedHeader({ alg: 'ES256', kid: 'x' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign((await generateKeyPair('ES256')).privateKey);
  const err = await authn.authenticate({ account: 'acme', password: new Secret(token) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendUnavailableError);
  return (err as Error).message;
}

test('jwt_auth: a discovery answered 404 says so', async () => {
  const issuer = await peer(() => ({ status: 404 }));
  expect(await jwtFailure(issuer)).toMatch(
    /^jwt_auth: discovery failed for http:\/\/127\.0\.0\.1:\d+: .*HTTP 404/,
  );
});

test('jwt_auth: a discovery nothing answers says the connection was refused', async () => {
  const issuer = `http://127.0.0.1:${await freePort()}`;
  expect(await jwtFailure(issuer)).toMatch(/discovery failed for .*ECONNREFUSED/);
});

test('jwt_auth: a key set answered 500 says so', async () => {
  const issuer = await peer((url, path) =>
    path.startsWith('/.well-known/')
      ? { status: 200, body: JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks` }) }
      : { status: 500 },
  );
  expect(await jwtFailure(issuer)).toMatch(/cannot fetch the keys of .*HTTP 500/);
});

test('oidc_auth: a discovery answered 404 says so, at the start of a login', async () => {
  const issuer = await peer(() => ({ status: 404 }));
  const err = await new OidcLogin(oidcLoginConfig(issuer)).start(Math.floor(Date.now() / 1000)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendUnavailableError);
  expect((err as Error).message).toMatch(
    /^oidc_auth: discovery failed for http:\/\/127\.0\.0\.1:\d+\/?: .*HTTP 404/,
  );
});
