import { expect, test } from 'vitest';
import { BadRequestError } from '../../src/core/errors.js';
import { OidcLogin, type LoginResult } from '../../src/oidc/login.js';
import { fakeOidcProvider, finishLogin, idTokenAnswer, oidcLoginConfig } from '../helpers/oidc-login.js';

/**
 * Found by a review of oidc_auth. `oidc_auth.not_before` refuses every app password of the
 * account issued before its time (docs/backends/oidc.md "Revoking app passwords: `not_before`").
 * While that time still lay ahead (an operator blocking an account until a date, or a typo of the year), a
 * login at /oidc/callback still signed a new app password, issued now, so before the time: the
 * page showed it as "valid until" 30 days on, and the token endpoint refused it at once (a 401
 * that the user's retries turned into a lockout); the registry page's sign-in sealed a session
 * refused on the next page. The refresh grant already avoided this very case (offerRefreshToken
 * in src/pipeline/pipeline.ts). The login now says that sign-in is closed until then (a 400 page).
 */
test.each([
  ['an app password', undefined],
  ['a registry-page session', '/ui'],
] as const)(
  'while the account’s not_before lies ahead, the login hands out no %s, and says until when',
  async (_what, returnTo) => {
    let nonce = '';
    const p = await fakeOidcProvider((req, res, base) => {
      const now = Math.floor(Date.now() / 1000);
      if (req.url !== '/token') return void res.writeHead(404).end();
      res.setHeader('content-type', 'application/json');
      res.end(idTokenAnswer({ iss: base, aud: 'c', sub: 'Alice', iat: now, exp: now + 300, nonce }));
    });
    try {
      const now = Math.floor(Date.now() / 1000);
      const until = new Date((now + 3600) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      const config = oidcLoginConfig(p.url, {
        user_claim: 'sub',
        // An hour from now, spelled as the lockout folds names: every credential of Alice issued
        // before then is refused.
        not_before: { alice: until },
      });
      const result = await finishLogin(new OidcLogin(config), {
        now,
        ...(returnTo ? { returnTo } : {}),
        onStart: (url) => (nonce = url.searchParams.get('nonce')!),
      });
      // Before: { account: 'Alice', appPassword: … } (or the page's session), refused at once.
      expect(result).toBeInstanceOf(BadRequestError);
      expect((result as Error).message).toContain(`closed until ${until.replace('Z', '.000Z')}`);
    } finally {
      p.close();
    }
  },
);

test('once the account’s not_before has passed, the login hands out an app password again', async () => {
  let nonce = '';
  const p = await fakeOidcProvider((req, res, base) => {
    const now = Math.floor(Date.now() / 1000);
    if (req.url !== '/token') return void res.writeHead(404).end();
    res.setHeader('content-type', 'application/json');
    res.end(idTokenAnswer({ iss: base, aud: 'c', sub: 'alice', iat: now, exp: now + 300, nonce }));
  });
  try {
    const now = Math.floor(Date.now() / 1000);
    const config = oidcLoginConfig(p.url, {
      user_claim: 'sub',
      not_before: { alice: new Date((now - 60) * 1000).toISOString() },
    });
    const result = await finishLogin(new OidcLogin(config), {
      now,
      onStart: (url) => (nonce = url.searchParams.get('nonce')!),
    });
    expect(result).toMatchObject({ account: 'alice' });
    expect((result as LoginResult).appPassword.reveal()).toMatch(/^rga_/);
  } finally {
    p.close();
  }
});
