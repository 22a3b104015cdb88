import { expect, test } from 'vitest';
import { BadRequestError } from '../../src/core/errors.js';
import { OidcLogin } from '../../src/oidc/login.js';
import { fakeOidcProvider, finishLogin, idTokenAnswer, oidcLoginConfig } from '../helpers/oidc-login.js';

/**
 * Found by a review of oidc_auth. With `user_claim: email` (the default) the login
 * takes the address only when the provider verified it (docs/backends/oidc.md "Which claim names
 * the account": an unverified address may be anyone's). But the claims are merged, ID token over
 * userinfo (src/oidc/login.ts finish), and `email_verified` is then read from the merge: an ID token
 * that carries `email_verified: true` but no `email` (a provider whose "email" mapper is off for
 * the ID token while its "email verified" one is on) lets the userinfo's address through even
 * though userinfo itself says it is not verified. Whoever typed that address into their profile
 * gets an app password (and a registry page session) in its owner's name. The flag must be read
 * from the same answer as the address it speaks for.
 */
test('an address from userinfo that userinfo calls unverified is refused, whatever the ID token says without an address', async () => {
  let nonce = '';
  const p = await fakeOidcProvider(
    (req, res, base) => {
      const now = Math.floor(Date.now() / 1000);
      res.setHeader('content-type', 'application/json');
      if (req.url === '/token') {
        // No email here: only the flag.
        res.end(
          idTokenAnswer({
            iss: base,
            aud: 'c',
            sub: 'eve',
            email_verified: true,
            iat: now,
            exp: now + 300,
            nonce,
          }),
        );
      } else if (req.url === '/userinfo') {
        // Eve typed alice's address into her profile; the provider says so.
        res.end(JSON.stringify({ sub: 'eve', email: 'alice@example.test', email_verified: false }));
      } else res.writeHead(404).end();
    },
    { userinfo: true },
  );
  try {
    const result = await finishLogin(new OidcLogin(oidcLoginConfig(p.url)), {
      onStart: (url) => (nonce = url.searchParams.get('nonce')!),
    });
    // Today: { account: 'alice@example.test', appPassword: … } for eve.
    expect(result).toBeInstanceOf(BadRequestError);
    expect((result as Error).message).toMatch(/has not verified this email address/);
  } finally {
    p.close();
  }
});

test('the same address verified by the answer that gives it is taken', async () => {
  let nonce = '';
  const p = await fakeOidcProvider(
    (req, res, base) => {
      const now = Math.floor(Date.now() / 1000);
      res.setHeader('content-type', 'application/json');
      if (req.url === '/token') {
        res.end(
          idTokenAnswer({
            iss: base,
            aud: 'c',
            sub: 'al',
            email_verified: false,
            iat: now,
            exp: now + 300,
            nonce,
          }),
        );
      } else if (req.url === '/userinfo') {
        res.end(JSON.stringify({ sub: 'al', email: 'alice@example.test', email_verified: true }));
      } else res.writeHead(404).end();
    },
    { userinfo: true },
  );
  try {
    const result = await finishLogin(new OidcLogin(oidcLoginConfig(p.url)), {
      onStart: (url) => (nonce = url.searchParams.get('nonce')!),
    });
    expect(result).toMatchObject({ account: 'alice@example.test' });
  } finally {
    p.close();
  }
});
