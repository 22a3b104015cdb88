import type { ServerResponse } from 'node:http';
import { describe, expect, test } from 'vitest';
import { BackendUnavailableError, BadRequestError } from '../../src/core/errors.js';
import { OidcLogin } from '../../src/oidc/login.js';
import { fakeOidcProvider, finishLogin, idTokenAnswer, oidcLoginConfig } from '../helpers/oidc-login.js';

/**
 * Found by a review of the OIDC login. A provider (or what stands in front of it: a WAF, a maintenance page, a proxy routing the path
 * nowhere) that answers the token endpoint or userinfo with something that is no OAuth answer at
 * all is a provider that cannot be reached, as src/oidc/login.ts `translate` says of "a proxy's
 * 502 page" and docs/backends/oidc.md "Order and errors" (503 provider unreachable, 400 expired
 * or foreign login / refused by the provider). Only a 5xx status got that answer: the same page
 * with a 200, 403 or 404 status, or JSON cut short, was a BadRequestError, "start again" (400,
 * logged at info), which sends users round the login again and hides the outage from operators.
 * (A 4xx page stays the login's: a filter in front of the provider may answer what the client sent.)
 */
type Answer = (res: ServerResponse) => void;

/**
 * A provider whose discovery document is good; `token` answers its token endpoint, or (when
 * absent) it answers an ID token without `email`, so that userinfo, answered by `userinfo`, is asked.
 */
function fakeProvider(answers: { token?: Answer; userinfo?: Answer }, nonce: () => string) {
  return fakeOidcProvider(
    (req, res, base) => {
      if (req.url === '/token') {
        if (answers.token) return answers.token(res);
        const now = Math.floor(Date.now() / 1000);
        res.setHeader('content-type', 'application/json');
        res.end(
          idTokenAnswer({ iss: base, aud: 'c', sub: 'alice', iat: now, exp: now + 300, nonce: nonce() }),
        );
      } else if (req.url === '/userinfo' && answers.userinfo) answers.userinfo(res);
      else res.writeHead(404).end();
    },
    { userinfo: true },
  );
}

async function callbackError(answers: { token?: Answer; userinfo?: Answer }): Promise<unknown> {
  let nonce = '';
  const p = await fakeProvider(answers, () => nonce);
  try {
    const login = new OidcLogin(oidcLoginConfig(p.url, { timeout: 2 }));
    return await finishLogin(login, { onStart: (url) => (nonce = url.searchParams.get('nonce')!) });
  } finally {
    p.close();
  }
}

const html =
  (status: number, body: string): Answer =>
  (res) =>
    res.writeHead(status, { 'content-type': 'text/html' }).end(body);

describe('a provider answering no OAuth answer at all is unreachable (503), not a bad login (400)', () => {
  test('the stand-in works: a 502 page at the token endpoint is already 503', async () => {
    expect(await callbackError({ token: html(502, '<h1>Bad gateway</h1>') })).toBeInstanceOf(
      BackendUnavailableError,
    );
  });

  test.each<[string, Answer]>([
    ['a maintenance page with status 200', html(200, '<h1>Down for maintenance</h1>')],
    [
      'JSON cut short with status 200',
      (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_tok'),
    ],
  ])('token endpoint: %s', async (_name, token) => {
    const err = await callbackError({ token });
    expect(err).toBeInstanceOf(BackendUnavailableError);
  });

  // A 4xx page (a firewall's 403, a proxy's 404) may answer what the client sent (the code is
  // the client's to choose: test/unit/oidc-login-client-made-503.test.ts): the login's, 400.
  test.each<[string, Answer]>([
    ['a WAF block page with status 403', html(403, '<h1>Request blocked</h1>')],
    ['a proxy 404 page', html(404, '<h1>Not found</h1>')],
  ])('token endpoint: %s is the login to start again (400)', async (_name, token) => {
    expect(await callbackError({ token })).toBeInstanceOf(BadRequestError);
  });

  test('userinfo: a maintenance page with status 200', async () => {
    const err = await callbackError({ userinfo: html(200, '<h1>Down for maintenance</h1>') });
    expect(err).toBeInstanceOf(BackendUnavailableError);
  });

  // Found by a review of 24aa1df, which made a non-OAuth 4xx page the login's 400 for every
  // request of the callback: the userinfo request carries nothing the client chose (an access
  // token the provider just issued to regauth), so a 404 page (a proxy routing /userinfo
  // nowhere), or a 403 or 429 page of a filter blocking or throttling regauth's own address, is an
  // outage of the provider's side (503, logged at error, Retry-After), not "start again".
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
});
