import { expect, test } from 'vitest';
import { signInThrough, useOidcServer } from '../helpers/test-provider.js';

// An account in more groups than an app password or the registry page's session cookie can
// carry gets a page saying so, not one that cannot be used. Found by a review: an account in 300
// groups got a 14,668-character app password (docker login's GET: 431; the POST grant: 400
// "parameter password too long") and a 14,736-byte session cookie, which browsers drop (RFC 6265
// §6.1 asks them to keep 4096 bytes), so the page would send it to the login again and again.

const CALLBACK = 'http://127.0.0.1:5001/oidc/callback';
const t = useOidcServer({
  callback: CALLBACK,
  config: ({ keyPath, certPath, secretFile }) =>
    `server:\n  addr: "127.0.0.1:0"\ntoken:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\noidc_auth:\n  issuer: ${t.provider.url}\n  client_id: ${t.provider.clientId}\n  client_secret: ${t.provider.clientSecret}\n  redirect_url: ${CALLBACK}\n  registry_url: reg\n  user_claim: sub\n  scopes: [openid, groups]\n  label_claims: {groups: groups}\n  secret_file: ${secretFile}\ncatalog:\n  registry_url: http://127.0.0.1:9\n  realm: https://registry.example/auth\n  timeout: 1\n  registry_service: reg\nacl:\n  - match: {account: "/.+/"}\n    actions: [pull]\n`,
});

test('an app password too long for a login is not issued: the page says why', async () => {
  const page = await signInThrough(t.provider, t.url, CALLBACK, '/oidc/login', 'bigco');
  expect(page.status).toBe(400);
  const html = await page.text();
  expect(html).not.toMatch(/rga_/);
  expect(html).toMatch(
    /labels \(oidc_auth\.label_claims\) make an app password of \d+ characters, longer than the 8192/,
  );
});

test('a session cookie too large for a browser is not set: the page says why', async () => {
  const page = await signInThrough(t.provider, t.url, CALLBACK, '/ui/', 'bigco');
  expect(page.status).toBe(400);
  expect(page.headers.getSetCookie().filter((c) => /^regauth_ui=[^;]/.test(c))).toEqual([]);
  expect(await page.text()).toMatch(
    /labels \(oidc_auth\.label_claims\) make a session cookie of \d+ bytes, more than the 4096/,
  );
});

test('an account with a few groups still gets both', async () => {
  const page = await signInThrough(t.provider, t.url, CALLBACK, '/oidc/login', 'alice');
  expect(page.status).toBe(200);
  const appPassword = /rga_[\w.-]+/.exec(await page.text())?.[0];
  const token = await fetch(`${t.url}/auth?service=reg`, {
    headers: { authorization: `Basic ${Buffer.from(`alice:${appPassword}`).toString('base64')}` },
  });
  expect(token.status).toBe(200);
  const ui = await signInThrough(t.provider, t.url, CALLBACK, '/ui/', 'alice');
  expect(ui.status).toBe(303);
  expect(ui.headers.getSetCookie().filter((c) => /^regauth_ui=[^;]/.test(c))).toHaveLength(1);
});
