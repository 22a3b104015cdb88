/**
 * Found by a review of oidc_auth: when an identity provider cannot be reached, the log said only
 * `discovery failed for https://…` (jwt_auth: also `cannot fetch the keys of …`; oidc_auth's login:
 * `the identity provider cannot be reached`), never why: a wrong issuer URL (404), a name that does
 * not resolve, a refused connection and a TLS failure all read the same, and the operator had to
 * reproduce the request by hand to tell them apart. The reason (the peer's HTTP status, or the
 * network error's code) is part of the message now, which the audit line and the reload log carry;
 * the client still gets the generic 503.
 *
 * Found by a review of that change: the reason was first the error's own message, with the status
 * or code beside it, and some errors quote the request: undici refuses a header value holding a
 * line break by quoting it, so an access token the provider sent mangled reached the log whole as
 * `Bearer …`. The reason is the status, a code, or the kind of error now, never such a message.
 * And found by a review of that: openid-client's error for an answer that is no JSON carries the
 * answer (status 200) as its cause, so the reason read `HTTP 200`, as if all had gone well; a
 * success status is no reason now, the code says what was wrong.
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
import { failureReason } from '../../src/core/fetch.js';
import { fakeOidcProvider, finishLogin, oidcLoginConfig } from '../helpers/oidc-login.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** A server on 127.0.0.1 answering every request with `status`, or with `answer`. */
async function peer(
  answer: (url: string, path: string) => { status: number; body?: string; type?: string },
): Promise<string> {
  let url = '';
  const server = createServer((req, res) => {
    const { status, body, type } = answer(url, req.url ?? '');
    res.writeHead(status, { 'content-type': type ?? 'application/json' }).end(body ?? 'no');
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

test('a userinfo request that cannot be made does not write the access token into the 503 message', async () => {
  const ACCESS_TOKEN = 'at-SECRET-0123456789abcdef\nx';
  // As the login's userinfo request meets it: fetch refusing the header, quoting its value.
  expect(() => new Headers({ authorization: `Bearer ${ACCESS_TOKEN}` })).toThrow(/at-SECRET/);
  let nonce = '';
  const p = await fakeOidcProvider(
    (req, res, base) => {
      const now = Math.floor(Date.now() / 1000);
      res.setHeader('content-type', 'application/json');
      if (req.url === '/token') {
        const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
        // No email in the ID token: userinfo is asked for it, with the access token.
        const claims = { iss: base, aud: 'c', sub: 'eve', iat: now, exp: now + 300, nonce };
        const idToken = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.c2ln`;
        res.end(JSON.stringify({ access_token: ACCESS_TOKEN, token_type: 'Bearer', id_token: idToken }));
      } else if (req.url === '/userinfo') {
        res.end(JSON.stringify({ sub: 'eve', email: 'eve@example.test', email_verified: true }));
      } else res.writeHead(404).end();
    },
    { userinfo: true },
  );
  try {
    const result = await finishLogin(new OidcLogin(oidcLoginConfig(p.url)), {
      onStart: (url) => (nonce = url.searchParams.get('nonce')!),
    });
    // Refused one way or another (503 today; a 400 would do as well): never signed in.
    expect(result).toBeInstanceOf(Error);
    const message = (result as Error).message;
    expect(message, 'the 503 message, which the audit line and the log write').not.toContain('at-SECRET');
  } finally {
    p.close();
  }
});

test('failureReason never repeats a message it does not know, and names what it knows', () => {
  const quoting = new TypeError('Headers.set: "Bearer at-SECRET" is an invalid header value.');
  expect(failureReason(quoting)).toBe('TypeError');
  expect(failureReason(new TypeError('fetch failed', { cause: new Error('bad port') }))).toBe('bad port');
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
  expect(failureReason(new TypeError('fetch failed', { cause: refused }))).toBe('ECONNREFUSED');
  expect(failureReason(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toBe(
    'timed out',
  );
  expect(failureReason(new SyntaxError('Unexpected token < in JSON at position 0'))).toBe('not JSON');
  expect(failureReason('a string thrown')).toBe('an unknown error');
  expect(failureReason(Object.create(null))).toBe('an unknown error');
  const cyclic: { cause?: unknown; message: string } = { message: 'x' };
  cyclic.cause = cyclic;
  expect(failureReason(cyclic)).toBe('an unknown error');
});

test('jwt_auth: a key set larger than 1 MiB says so', async () => {
  const issuer = await peer((url, path) =>
    path.startsWith('/.well-known/')
      ? { status: 200, body: JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks` }) }
      : { status: 200, body: 'x'.repeat(2 << 20) },
  );
  expect(await jwtFailure(issuer)).toMatch(/cannot fetch the keys of .*: ERR_RESPONSE_TOO_LARGE$/);
});

test('an issuer answering 200 with a web page: the reason says it is no JSON, not HTTP 200', async () => {
  const issuer = await peer(() => ({ status: 200, body: '<html>a web app</html>', type: 'text/html' }));
  const jwt = await jwtFailure(issuer);
  expect(jwt).toMatch(/discovery failed for .*: OAUTH_RESPONSE_IS_NOT_JSON$/);
  const err = await new OidcLogin(oidcLoginConfig(issuer)).start(Math.floor(Date.now() / 1000)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect((err as Error).message).toMatch(/discovery failed for .*: OAUTH_RESPONSE_IS_NOT_JSON$/);
});
