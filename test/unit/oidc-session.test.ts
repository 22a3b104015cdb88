import { randomBytes } from 'node:crypto';
import { EncryptJWT } from 'jose';
import { describe, expect, test } from 'vitest';
import { deriveKey } from '../../src/oidc/keys.js';
import { UiSessions, safeReturnPath } from '../../src/oidc/session.js';
import { Secret } from '../../src/core/secret.js';

const NOW = 1_800_000_000;
const secret = () => new Secret(randomBytes(48).toString('base64'));
const LABELS = { groups: ['devs', 'ops'] };

/** One character of a compact JWE's part `part` changed (not the last: base64url padding bits). */
function tamper(cookie: string, part: number): string {
  const parts = cookie.split('.');
  const p = parts[part]!;
  const at = Math.floor(p.length / 2);
  parts[part] = `${p.slice(0, at)}${p[at] === 'A' ? 'B' : 'A'}${p.slice(at + 1)}`;
  return parts.join('.');
}

describe('the registry page session cookie', () => {
  test('opens to the account, labels and times it was sealed with; its content is not readable', async () => {
    const sessions = new UiSessions(secret());
    const { cookie, session } = await sessions.seal('alice', LABELS, NOW, 3600);
    expect(session).toEqual({
      account: 'alice',
      labels: LABELS,
      sid: expect.any(String),
      issuedAt: NOW,
      expiresAt: NOW + 3600,
    });
    expect(await sessions.open(cookie, NOW + 10)).toEqual(session);
    // A compact JWE: the account and labels are encrypted, not merely encoded.
    expect(cookie.split('.')).toHaveLength(5);
    for (const part of cookie.split('.')) {
      expect(Buffer.from(part, 'base64url').toString('latin1')).not.toMatch(/alice|devs/);
    }
  });

  test('expires: refused from the second it ends, and after', async () => {
    const sessions = new UiSessions(secret());
    const { cookie } = await sessions.seal('alice', LABELS, NOW, 60);
    expect(await sessions.open(cookie, NOW + 59)).toBeDefined();
    expect(await sessions.open(cookie, NOW + 60)).toBeUndefined();
    expect(await sessions.open(cookie, NOW + 86_400)).toBeUndefined();
  });

  test('tampered in any part: refused', async () => {
    const sessions = new UiSessions(secret());
    const { cookie } = await sessions.seal('alice', LABELS, NOW, 3600);
    for (const part of [0, 2, 3, 4]) {
      expect(await sessions.open(tamper(cookie, part), NOW), `part ${part}`).toBeUndefined();
    }
    expect(await sessions.open(`${cookie}x`, NOW)).toBeUndefined();
    expect(await sessions.open('', NOW)).toBeUndefined();
    expect(await sessions.open(undefined, NOW)).toBeUndefined();
    expect(await sessions.open('a'.repeat(20_000), NOW)).toBeUndefined();
  });

  test('sealed under another secret: refused', async () => {
    const { cookie } = await new UiSessions(secret()).seal('alice', LABELS, NOW, 3600);
    expect(await new UiSessions(secret()).open(cookie, NOW)).toBeUndefined();
  });

  test('a login cookie under the same secret is not a session (another key, another typ)', async () => {
    const shared = secret();
    const sessions = new UiSessions(shared);
    // A login cookie as OidcLogin.start() makes it, with its own key from the same secret.
    const loginCookie = await new EncryptJWT({
      state: 's',
      nonce: 'n',
      verifier: 'v',
      sub: 'alice',
      jti: 'x',
    })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: 'regauth-login+jwt' })
      .setIssuedAt(NOW)
      .setExpirationTime(NOW + 600)
      .encrypt(deriveKey(shared, 'login-cookie-encryption'));
    expect(await sessions.open(loginCookie, NOW)).toBeUndefined();
    // Nor one under the session key with the login cookie's typ.
    const wrongTyp = await new EncryptJWT({ sub: 'alice', jti: 'x' })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: 'regauth-login+jwt' })
      .setIssuedAt(NOW)
      .setExpirationTime(NOW + 600)
      .encrypt(deriveKey(shared, 'ui-session-encryption'));
    expect(await sessions.open(wrongTyp, NOW)).toBeUndefined();
    // While a session sealed with the same secret opens.
    const { cookie } = await sessions.seal('alice', {}, NOW, 60);
    expect((await sessions.open(cookie, NOW))?.account).toBe('alice');
  });

  test('the CSRF token is bound to its session and secret', async () => {
    const sessions = new UiSessions(secret());
    const a = (await sessions.seal('alice', {}, NOW, 3600)).session;
    const b = (await sessions.seal('alice', {}, NOW, 3600)).session;
    const token = sessions.csrfToken(a);
    expect(token).toMatch(/^[\w-]{43}$/);
    expect(sessions.checkCsrf(a, token)).toBe(true);
    expect(sessions.checkCsrf(b, token)).toBe(false);
    expect(new UiSessions(secret()).checkCsrf(a, token)).toBe(false);
    for (const wrong of [null, undefined, '', token.slice(1), `${token}A`, tamper(`${token}...`, 0)]) {
      expect(sessions.checkCsrf(a, wrong)).toBe(false);
    }
  });
});

describe('safeReturnPath: where the callback may send the browser back to', () => {
  test.each([
    ['/ui/', '/ui'],
    ['/ui', '/ui'],
    ['/ui/tag?name=team/app&tag=v1', '/ui'],
    ['/ui/repository?name=team%2Fapp', '/ui'],
    ['/ui/?last=alice%2Fapp', '/ui'],
    ['/regauth/ui/', '/regauth/ui'],
    ['/regauth/ui/tag?name=a/b&tag=v1', '/regauth/ui'],
  ])('accepts %s under %s', (value, base) => {
    expect(safeReturnPath(value, base)).toBe(value);
  });

  test.each([
    '//evil',
    '//evil.example/ui/',
    'https://evil',
    'https://evil.example/ui/',
    'http:/ui/',
    '/\\evil',
    '/ui/\\evil',
    '\\\\evil/ui/',
    '/%2Fevil',
    '/%2f%2fevil',
    '/%5Cevil',
    '/ui/%2F%2Fevil',
    '/ui/%5c%5cevil',
    '/ui//evil',
    '/ui/../oidc/login',
    '/ui/%2e%2e/oidc/login',
    '/ui/%2E%2E%2Foidc',
    '/ui/./tag',
    '/uievil',
    '/ui%2F..%2Fevil',
    '/other/ui/',
    '/ui/\tx',
    '/ui/ x',
    '/ui/%0d%0aSet-Cookie:x=y',
    '/ui/\r\nLocation: https://evil',
    '/ui/%00',
    '/ui/%zz',
    'javascript:alert(1)',
    '',
    `/ui/${'a'.repeat(3000)}`,
  ])('refuses %j', (value) => {
    expect(safeReturnPath(value, '/ui')).toBeUndefined();
  });

  test('under a prefix, a path outside it is refused', () => {
    expect(safeReturnPath('/ui/', '/regauth/ui')).toBeUndefined();
    expect(safeReturnPath('/regauth/uix', '/regauth/ui')).toBeUndefined();
    expect(safeReturnPath('//regauth/ui/', '/regauth/ui')).toBeUndefined();
  });
});
