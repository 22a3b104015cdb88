import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { UiSessions } from '../../src/oidc/session.js';
import { MemoryStore } from '../../src/store/memory.js';
import { Secret } from '../../src/core/secret.js';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTestProvider, type TestProvider } from '../helpers/test-provider.js';

/**
 * The registry page with `oidc_auth` (docs/catalog.md "Signing in with oidc_auth"), over https
 * (redirect_url), under a path prefix: the redirect to the login, the session cookie as an
 * attacker would handle it, and the sign-out. The registry is unreachable here, so a request a
 * session opens ends in 503 (the page's own answer), one it does not in a redirect or 401.
 */
const tmp = tempDir();
let provider: TestProvider;
let t: TestServer;
let base: string;
let sessions: UiSessions;
let config: (keys: { keyPath: string; certPath: string }) => string;
const hourAgo = Math.floor(Date.now() / 1000) - 3600;
const davePassword = randomPassword();

beforeAll(async () => {
  provider = await startTestProvider('https://auth.example/regauth/oidc/callback');
  const secret = randomBytes(48).toString('base64');
  const secretFile = join(tmp.dir, 'oidc.secret');
  writeFileSync(secretFile, secret);
  sessions = new UiSessions(new Secret(secret));
  config = ({ keyPath, certPath }: { keyPath: string; certPath: string }) => `server:
  addr: "127.0.0.1:0"
  path_prefix: /regauth
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [registry.example]
users:
  dave: {password: "${hash(davePassword)}"}
oidc_auth:
  issuer: ${provider.url}
  client_id: ${provider.clientId}
  redirect_url: https://auth.example/regauth/oidc/callback
  registry_url: registry.example
  secret_file: ${secretFile}
  not_before:
    carol: "${new Date(hourAgo * 1000).toISOString()}"
catalog:
  registry_url: http://127.0.0.1:9
  realm: https://registry.example/auth
  timeout: 1
  # Sessions sealed an hour ago, below, are still within it.
  ui_session: 24h
acl:
  - match: {labels: {groups: devs}, name: "team/*"}
    actions: [pull]
`;
  t = await startTestServer({ dir: tmp.dir, config });
  base = `${t.url}/regauth/ui`;
});
afterAll(async () => {
  await t.server.close(100);
  await provider.stop();
  tmp.cleanup();
});

const now = () => Math.floor(Date.now() / 1000);
const cookieHeader = (value: string) => ({ cookie: `__Host-regauth_ui=${value}` });

async function sessionCookie(account = 'alice', issuedAt = now(), lifetime = 3600) {
  return sessions.seal(account, { groups: ['devs'] }, issuedAt, lifetime);
}

describe('/ui/ with oidc_auth', () => {
  test('no session: a redirect to the provider with a login cookie, never the Basic prompt', async () => {
    const res = await fetch(`${base}/tag?name=team/app&tag=v1`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('www-authenticate')).toBeNull();
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).toBe(provider.url);
    expect(location.searchParams.get('redirect_uri')).toBe('https://auth.example/regauth/oidc/callback');
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(res.headers.getSetCookie()).toEqual([
      expect.stringMatching(
        /^__Host-regauth_oidc=[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax; Secure$/,
      ),
    ]);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test('a valid session opens the page (the registry is down here: 503), with a sign-out form', async () => {
    const { cookie } = await sessionCookie();
    const res = await fetch(`${base}/repository?name=team/app`, { headers: cookieHeader(cookie) });
    expect(res.status).toBe(503);
    const list = await fetch(`${base}/`, { headers: cookieHeader(cookie), redirect: 'manual' });
    expect(list.status).toBe(503);
    // Outside the labels' rights: the same 404 as for no repository, before the registry is asked.
    const other = await fetch(`${base}/repository?name=other/app`, { headers: cookieHeader(cookie) });
    expect(other.status).toBe(404);
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
  });

  test.each([
    ['tampered', async () => tamper((await sessionCookie()).cookie)],
    ['expired', async () => (await sessionCookie('alice', now() - 7200, 3600)).cookie],
    [
      'sealed under another secret',
      async () =>
        (await new UiSessions(new Secret(randomBytes(48).toString('base64'))).seal('alice', {}, now(), 3600))
          .cookie,
    ],
    ['planted without the __Host- prefix', async () => `x; regauth_ui=${(await sessionCookie()).cookie}`],
  ])('a session cookie %s: back to the login, the cookie cleared', async (_name, make) => {
    const value = await make();
    const res = await fetch(`${base}/`, { headers: cookieHeader(value), redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get('location')!).origin).toBe(provider.url);
    expect(res.headers.getSetCookie()).toContain(
      '__Host-regauth_ui=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure',
    );
  });

  test.each([
    ['issued before its oidc_auth.not_before', 'carol', hourAgo - 60],
    ['of an account a backend before oidc_auth holds', 'dave', now()],
  ])('a session %s: 401, cookie cleared, no Basic prompt', async (_name, account, issuedAt) => {
    const { cookie } = await sessionCookie(account, issuedAt, 86_400);
    const res = await fetch(`${base}/`, { headers: cookieHeader(cookie), redirect: 'manual' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect(res.headers.getSetCookie()).toContain(
      '__Host-regauth_ui=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure',
    );
    expect(await res.text()).toContain('sign in again');
  });

  test('Basic credentials still work with oidc_auth set (for the static user)', async () => {
    const res = await fetch(`${base}/`, {
      headers: { authorization: `Basic ${Buffer.from(`dave:${davePassword}`).toString('base64')}` },
      redirect: 'manual',
    });
    expect(res.status).toBe(503);
  });
});

describe('POST /ui/signout', () => {
  const signOut = (cookie: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/signout`, {
      method: 'POST',
      headers: { ...cookieHeader(cookie), 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
      redirect: 'manual',
    });

  test('without the CSRF token, or with another session’s: 403, the session still open', async () => {
    const { cookie, session } = await sessionCookie();
    const other = (await sessionCookie()).session;
    for (const body of [
      '',
      'csrf=',
      `csrf=${sessions.csrfToken(other)}`,
      `csrf=${sessions.csrfToken(session).slice(1)}`,
    ]) {
      const res = await signOut(cookie, body);
      expect(res.status, body).toBe(403);
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    const still = await fetch(`${base}/repository?name=team/app`, { headers: cookieHeader(cookie) });
    expect(still.status).toBe(503);
  });

  test('with it: the cookie cleared, and the same cookie replayed afterwards is refused', async () => {
    const { cookie, session } = await sessionCookie();
    const page = await fetch(`${base}/repository?name=other/app`, { headers: cookieHeader(cookie) });
    // The form on the page carries this session's token.
    expect(await page.text()).toContain(`name="csrf" value="${sessions.csrfToken(session)}"`);
    const res = await signOut(cookie, `csrf=${sessions.csrfToken(session)}`);
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual([
      '__Host-regauth_ui=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure',
    ]);
    expect(await res.text()).toContain('You have signed out');
    const replay = await fetch(`${base}/repository?name=team/app`, {
      headers: cookieHeader(cookie),
      redirect: 'manual',
    });
    expect(replay.status).toBe(303);
    expect(new URL(replay.headers.get('location')!).origin).toBe(provider.url);
    // Signing out twice is no error.
    expect((await signOut(cookie, `csrf=${sessions.csrfToken(session)}`)).status).toBe(200);
  });

  test('without a cookie (a cross-site form: SameSite=Lax sends none): no Set-Cookie, nothing changes', async () => {
    // A browser applies the reply's Set-Cookie to the cookie it kept back: the answer must not
    // clear it, or any site could sign its visitors out.
    const res = await fetch(`${base}/signout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
      redirect: 'manual',
    });
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('You have signed out');
  });

  test('a cookie that opens no session (expired, forged) is cleared without a CSRF token', async () => {
    const res = await signOut('not-a-session', '');
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual([
      '__Host-regauth_ui=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure',
    ]);
  });

  test('GET is not a sign-out', async () => {
    const { cookie } = await sessionCookie();
    const res = await fetch(`${base}/signout`, { headers: cookieHeader(cookie) });
    expect(res.status).toBe(404);
    const still = await fetch(`${base}/repository?name=team/app`, { headers: cookieHeader(cookie) });
    expect(still.status).toBe(503);
  });

  test('no session or credential appears in the log', () => {
    const logs = t.logs.join('');
    expect(logs).toContain('registry page sign-out');
    expect(logs).not.toMatch(/[\w-]{20,}\.\.[\w-]{10,}\./);
    expect(logs).not.toContain(davePassword);
  });
});

describe('POST /ui/signout with the memory store full', () => {
  // Room for one sign-out: the second is refused rather than dropping the first.
  let full: TestServer;
  beforeAll(async () => {
    full = await startTestServer({
      dir: tmp.dir,
      file: 'full.yml',
      config,
      server: { store: new MemoryStore({ maxEntries: 100, maxMarks: 1 }) },
    });
  });
  afterAll(() => full.server.close(100));

  const signOut = (cookie: string, csrf: string) =>
    fetch(`${full.url}/regauth/ui/signout`, {
      method: 'POST',
      headers: { ...cookieHeader(cookie), 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${csrf}`,
      redirect: 'manual',
    });
  const open = (cookie: string) =>
    fetch(`${full.url}/regauth/ui/repository?name=team/app`, {
      headers: cookieHeader(cookie),
      redirect: 'manual',
    });

  test('503 with Retry-After, the cookie kept, the session still open, the first sign-out kept', async () => {
    const first = await sessionCookie();
    expect((await signOut(first.cookie, sessions.csrfToken(first.session))).status).toBe(200);
    const second = await sessionCookie();
    const res = await signOut(second.cookie, sessions.csrfToken(second.session));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.headers.getSetCookie()).toEqual([]);
    const body = await res.text();
    expect(body).toContain('retry later');
    // One process's memory, not a shared store: the page does not name one.
    expect(body).not.toContain('shared');
    expect(body).not.toMatch(/\n\s+at |\.[jt]s:\d/);
    // Not signed out: the session still opens the page (503: the registry is down here).
    const still = await open(second.cookie);
    expect(still.status).toBe(503);
    expect(await still.text()).toContain('registry cannot be reached');
    // The sign-out that fit still holds.
    expect((await open(first.cookie)).status).toBe(303);
    // The log says why, without the session.
    const logs = full.logs.join('');
    expect(logs).toContain('unexpired marks in ui-signed-out');
    expect(logs).not.toContain(second.cookie);
  });
});

/** One character of the ciphertext changed. */
function tamper(cookie: string): string {
  const parts = cookie.split('.');
  const p = parts[3]!;
  const at = Math.floor(p.length / 2);
  parts[3] = `${p.slice(0, at)}${p[at] === 'A' ? 'B' : 'A'}${p.slice(at + 1)}`;
  return parts.join('.');
}
