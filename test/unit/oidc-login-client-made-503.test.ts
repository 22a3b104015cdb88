/**
 * Found by a review of 001d6fb ("Answer 503 when the provider answers with no OAuth reply at all").
 * OAUTH_RESPONSE_IS_NOT_JSON is now "the provider cannot be reached" (503, logged at error). But
 * which answer the token endpoint gives is partly the client's choice: the `code` in the callback
 * URL is whatever the browser sends, and regauth posts it to the provider. A WAF in front of the
 * provider (the very stand-in of the commit's test) blocks a code that looks like an injection with
 * its HTML 403 page, and lets a merely wrong one through to the provider's 400 invalid_grant. So
 * anyone who starts a login (/oidc/login gives the cookie and the state) and edits the code gets
 * 503 "the identity provider cannot be reached" with Retry-After, logged at error, on demand:
 * a tampered login was reported as a provider outage (before that commit it was the 400 "start
 * again", as the same code without the WAF's trigger still was). A 4xx page is the client's.
 */
import type { IncomingMessage } from 'node:http';
import { expect, test } from 'vitest';
import { BackendUnavailableError, BadRequestError } from '../../src/core/errors.js';
import { OidcLogin } from '../../src/oidc/login.js';
import { fakeOidcProvider, finishLogin, oidcLoginConfig } from '../helpers/oidc-login.js';

const body = (req: IncomingMessage) =>
  new Promise<string>((done) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => done(text));
  });

/**
 * A provider behind a WAF: the token endpoint refuses an unknown code with a proper OAuth error
 * (400 invalid_grant, JSON), unless the request carries what the WAF blocks (markup), which it
 * answers with its own HTML page.
 */
function providerBehindWaf() {
  return fakeOidcProvider(async (req, res) => {
    if (req.url === '/token') {
      const code = new URLSearchParams(await body(req)).get('code') ?? '';
      if (/[<>]/.test(code)) {
        res.writeHead(403, { 'content-type': 'text/html' }).end('<h1>Request blocked</h1>');
      } else {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'invalid_grant', error_description: 'Code not valid' }));
      }
    } else res.writeHead(404).end();
  });
}

test('a code the client edited is a failed login (400), whatever it contains: never "provider cannot be reached"', async () => {
  const p = await providerBehindWaf();
  try {
    const login = new OidcLogin(oidcLoginConfig(p.url, { timeout: 2 }));
    // The same login, the same provider, up and answering: a wrong code is the login's fault.
    expect(await finishLogin(login, { code: 'made-up-code' })).toBeInstanceOf(BadRequestError);
    // Only the code's content differs: the client picks 503 or 400.
    const edited = await finishLogin(login, { code: '<script>x</script>' });
    expect(edited).not.toBeInstanceOf(BackendUnavailableError);
    expect(edited).toBeInstanceOf(BadRequestError);
  } finally {
    p.close();
  }
});
