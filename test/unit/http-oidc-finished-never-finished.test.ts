import { expect, test } from 'vitest';
import { signInThrough, useOidcServer } from '../helpers/test-provider.js';

// Found by a review of 9f4f15c: a login that FAILED after its state was claimed is later reported
// as finished. OidcLogin.finish claims the state (store mark `oidc-login`, and now
// `oidc-login-page` for a registry page's login) before the last checks: the session cookie too
// large for a browser (src/http/oidc.ts), the app password too long for a login. Such a login
// ends in a 400 with no session and no app password, yet its callback asked again (a reload, the
// cookie already cleared) says "This sign-in is finished: it signed you in to the registry page"
// or "its app password was shown once, on the page it opened".
// Why it matters: 9f4f15c made these texts assert concretely what the login gave (the note of
// stop 46: the text may not say what did not happen); for the user whose login failed both are
// false, and they hide the real reason (the label_claims size) behind "sign in again", which
// fails the same way. The root (claim before the last checks) predates 9f4f15c; the old generic
// text was vaguer but just as wrong.

const CALLBACK = 'https://auth.example/regauth/oidc/callback';
const t = useOidcServer({
  callback: CALLBACK,
  config: ({ keyPath, certPath, secretFile }) => `server: {addr: "127.0.0.1:0", path_prefix: /regauth}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.example]}
oidc_auth:
  issuer: ${t.provider.url}
  client_id: ${t.provider.clientId}
  client_secret: ${t.provider.clientSecret}
  user_claim: sub
  scopes: [openid, groups]
  label_claims: {groups: groups}
  redirect_url: ${CALLBACK}
  registry_url: registry.example
  secret_file: ${secretFile}
catalog: {registry_url: "http://127.0.0.1:9", realm: "https://registry.example/auth", timeout: 1}
acl: []
`,
});

test("a registry page's login refused for its cookie size is not 'signed you in' when asked again", async () => {
  const first = await signInThrough(t.provider, t.url, CALLBACK, '/regauth/ui/', 'bigco');
  expect(first.status).toBe(400);
  expect(await first.text()).toMatch(/make a session cookie of \d+ bytes/);
  expect(first.headers.getSetCookie().filter((c) => /^regauth_ui=[^;]/.test(c))).toEqual([]);
  const again = await fetch(first.url, { redirect: 'manual' });
  expect(again.status).toBe(400);
  const page = await again.text();
  expect(page).not.toContain('signed you in');
});

test("an app password's login refused for its length is not 'its app password was shown' when asked again", async () => {
  const first = await signInThrough(t.provider, t.url, CALLBACK, '/regauth/oidc/login', 'bigco');
  expect(first.status).toBe(400);
  const html = await first.text();
  expect(html).toMatch(/make an app password of \d+ characters/);
  expect(html).not.toMatch(/rga_/);
  const again = await fetch(first.url, { redirect: 'manual' });
  expect(again.status).toBe(400);
  const page = await again.text();
  expect(page).not.toContain('app password was shown');
});
