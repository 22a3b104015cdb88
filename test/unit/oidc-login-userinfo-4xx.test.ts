/**
 * Found by a review of 24aa1df ("Keep a 4xx page from the provider's side a failed login, not 503").
 *
 * answeredTheClient (src/oidc/login.ts translate) makes every openid-client ClientError whose
 * cause has a 4xx status the login's 400, on the grounds that the callback's `code` is the
 * client's to choose and a WAF may answer it. But translate handles every request of the
 * callback, and openid-client puts the Response in `err.cause` for OAUTH_RESPONSE_IS_NOT_CONFORM
 * and OAUTH_RESPONSE_IS_NOT_JSON whatever the endpoint. The userinfo request carries nothing the
 * client chose (an access token the provider just issued to regauth): a 404 page (a proxy routing
 * /userinfo nowhere), a 403 or 429 page of a filter in front of the provider blocking or
 * throttling regauth's own address is an outage of the provider's side, as 001d6fb made it (503,
 * logged at error, Retry-After). Since 24aa1df it is "the login could not be completed; start
 * again at /oidc/login" (400, logged at info): users go round the login again and again, and
 * operators see no outage. (The token endpoint's own 4xx pages are the trade-off the commit chose.)
 */
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from 'vitest';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { loadOidcAuth, oidcAuthSchema } from '../../src/oidc/config.js';
import { OidcLogin } from '../../src/oidc/login.js';

function loginConfig(issuer: string) {
  return loadOidcAuth(
    oidcAuthSchema.parse({
      issuer,
      client_id: 'c',
      client_secret: 's',
      redirect_url: 'https://auth.example/oidc/callback',
      registry_url: 'r',
      secret_file: 'f',
      timeout: 2,
    }),
    (x) => x,
    () => randomBytes(48).toString('base64'),
  );
}

type Answer = (res: ServerResponse) => void;

/**
 * A provider whose discovery document is good; `token` answers its token endpoint, or (when
 * absent) it answers an ID token without `email`, so that userinfo, answered by `userinfo`, is asked.
 */
async function fakeProvider(answers: { token?: Answer; userinfo?: Answer }, nonce: () => string) {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const server = createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          issuer: base,
          authorization_endpoint: `${base}/auth`,
          token_endpoint: `${base}/token`,
          userinfo_endpoint: `${base}/userinfo`,
          jwks_uri: `${base}/jwks`,
          response_types_supported: ['code'],
        }),
      );
    } else if (req.url === '/token') {
      if (answers.token) return answers.token(res);
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: base, aud: 'c', sub: 'alice', iat: now, exp: now + 300, nonce: nonce() };
      const idToken = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.c2ln`;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ access_token: 'at', token_type: 'Bearer', id_token: idToken }));
    } else if (req.url === '/userinfo' && answers.userinfo) answers.userinfo(res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

async function callbackError(answers: { token?: Answer; userinfo?: Answer }): Promise<unknown> {
  let nonce = '';
  const p = await fakeProvider(answers, () => nonce);
  try {
    const login = new OidcLogin(loginConfig(p.url));
    const now = Math.floor(Date.now() / 1000);
    const { authorizationUrl, cookie } = await login.start(now);
    nonce = authorizationUrl.searchParams.get('nonce')!;
    const state = authorizationUrl.searchParams.get('state')!;
    return await login
      .finish(`code=abc&state=${state}`, cookie, now, { claim: () => true })
      .catch((e: unknown) => e);
  } finally {
    p.close();
  }
}

const html =
  (status: number, body: string): Answer =>
  (res) =>
    res.writeHead(status, { 'content-type': 'text/html' }).end(body);

test.each<[string, Answer]>([
  ['a proxy 404 page', html(404, '<h1>Not found</h1>')],
  ['a filter blocking regauth with a 403 page', html(403, '<h1>Request blocked</h1>')],
  ['a rate limiter with a 429 page', html(429, '<h1>Too many requests</h1>')],
])(
  'userinfo (nothing in it the client chose): %s is the provider unreachable (503)',
  async (_name, userinfo) => {
    expect(await callbackError({ userinfo })).toBeInstanceOf(BackendUnavailableError);
  },
);
