/**
 * Found by a review of the oidc_auth login (docs/backends/oidc.md "Order and errors").
 *
 * DEFECT: a token endpoint that refuses the callback's code with a proper OAuth error
 * (`400 {"error":"invalid_grant"}`) AND a `WWW-Authenticate` header is reported as an outage: 503
 * "authentication backend unavailable, retry later", Retry-After, logged at error. openid-client
 * (oauth4webapi's checkAuthenticationChallenges) turns any token-endpoint answer carrying
 * `WWW-Authenticate` into a WWWAuthenticateChallengeError before it reads the body, and
 * translate() in src/oidc/login.ts knows no such error: it falls through to its last line,
 * BackendUnavailableError. Doorkeeper (the provider of GitLab, a common IdP) sends
 * `WWW-Authenticate: Bearer realm=…, error="invalid_grant"` on every error answer, 400 included,
 * and a gateway or WAF in front of a provider may answer a blocked request with a 401/403 and a
 * challenge. The `code` is the client's to choose: anyone who starts a login (/oidc/login gives
 * the cookie and the state) and edits the code gets a 503 "provider cannot be reached", logged at
 * error, on demand; an honest user whose code expired is told the provider is down.
 *
 * DOCS: "Errors on these routes are a small HTML page with a 400 (expired or foreign login,
 * refused by the provider) or 503 (provider unreachable, or answering with no OAuth answer at
 * all …). A 4xx page that is no OAuth answer from the token endpoint … is the login's 400: the
 * callback's code is the client's to choose, so a client could otherwise raise an outage at will."
 * (The same class of bug as test/unit/oidc-login-client-made-503.test.ts, through another error type.)
 *
 * FIX: in translate(), treat `client.WWWAuthenticateChallengeError` from the token endpoint with a
 * 4xx status (`err.status < 500`) as the login's failure (BadRequestError, 400), like a
 * ResponseBodyError; a 5xx with a challenge stays 503. (From userinfo, where nothing is the
 * client's, a challenge may stay 503.)
 */
import { expect, test } from 'vitest';
import { BackendUnavailableError, BadRequestError } from '../../src/core/errors.js';
import { OidcLogin } from '../../src/oidc/login.js';
import { fakeOidcProvider, finishLogin, oidcLoginConfig } from '../helpers/oidc-login.js';

/** A token endpoint refusing every code as Doorkeeper does: 400 invalid_grant, with a challenge. */
function doorkeeperLikeProvider(status = 400) {
  return fakeOidcProvider((req, res) => {
    if (req.url === '/token') {
      res
        .writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          'www-authenticate':
            'Bearer realm="Doorkeeper", error="invalid_grant", error_description="The provided authorization grant is invalid, expired, revoked"',
        })
        .end(
          JSON.stringify({
            error: 'invalid_grant',
            error_description: 'The provided authorization grant is invalid, expired, revoked',
          }),
        );
    } else res.writeHead(404).end();
  });
}

test('a code the provider refuses with invalid_grant and a WWW-Authenticate challenge is a failed login (400), not an outage', async () => {
  const p = await doorkeeperLikeProvider();
  try {
    const err = await finishLogin(new OidcLogin(oidcLoginConfig(p.url, { timeout: 2 })), {
      code: 'made-up-code',
    });
    // Today: BackendUnavailableError ("the identity provider cannot be reached", 503).
    expect(err).not.toBeInstanceOf(BackendUnavailableError);
    expect(err).toBeInstanceOf(BadRequestError);
  } finally {
    p.close();
  }
});

test.each([401, 403])(
  'a %i with a challenge from the token endpoint (a gateway blocking the request) is a failed login (400)',
  async (status) => {
    const p = await doorkeeperLikeProvider(status);
    try {
      const err = await finishLogin(new OidcLogin(oidcLoginConfig(p.url, { timeout: 2 })));
      expect(err).toBeInstanceOf(BadRequestError);
    } finally {
      p.close();
    }
  },
);

test.each([502, 503])('a %i with a challenge is the provider down (503), as without one', async (status) => {
  const p = await doorkeeperLikeProvider(status);
  try {
    const err = await finishLogin(new OidcLogin(oidcLoginConfig(p.url, { timeout: 2 })));
    expect(err).toBeInstanceOf(BackendUnavailableError);
  } finally {
    p.close();
  }
});

test('the same refusal without the header is already a 400 (the only difference is the challenge)', async () => {
  const p = await fakeOidcProvider((req, res) => {
    if (req.url === '/token') {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'invalid_grant' }));
    } else res.writeHead(404).end();
  });
  try {
    const err = await finishLogin(new OidcLogin(oidcLoginConfig(p.url, { timeout: 2 })));
    expect(err).toBeInstanceOf(BadRequestError);
  } finally {
    p.close();
  }
});
