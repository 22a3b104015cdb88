import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
import { providerErrorCode } from '../../src/oidc/login.js';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';
import { startTestProvider, type TestProvider } from '../helpers/test-provider.js';

/** The /oidc routes under a path prefix, with a live provider, a dead one, and none configured. */
const tmp = tempDir();
const servers: RunningServer[] = [];
let provider: TestProvider;
let live: string;
let dead: string;
let none: string;
let plain: string;

async function serve(oidc: string): Promise<string> {
  const { server } = await startTestServer({
    dir: tmp.dir,
    file: `config-${servers.length}.yml`,
    config: ({ keyPath, certPath }) =>
      `server:\n  addr: "127.0.0.1:0"\n  path_prefix: /regauth\ntoken:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n${oidc}`,
  });
  servers.push(server);
  return `${server.url}/regauth`;
}

const oidcBlock = (
  issuer: string,
  clientId: string,
  redirectUrl = 'https://auth.example/regauth/oidc/callback',
) => {
  const secretFile = join(tmp.dir, `secret-${randomBytes(4).toString('hex')}`);
  writeFileSync(secretFile, randomBytes(48).toString('base64'));
  return `oidc_auth:\n  issuer: ${issuer}\n  client_id: ${clientId}\n  redirect_url: ${redirectUrl}\n  registry_url: registry.example\n  secret_file: ${secretFile}\n`;
};

beforeAll(async () => {
  provider = await startTestProvider('https://auth.example/regauth/oidc/callback');
  live = await serve(oidcBlock(provider.url, provider.clientId));
  dead = await serve(oidcBlock('http://127.0.0.1:9', 'x'));
  none = await serve('');
  plain = await serve(
    oidcBlock(provider.url, provider.clientId, 'http://127.0.0.1:5001/regauth/oidc/callback'),
  );
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close(100)));
  await provider.stop();
  tmp.cleanup();
});

describe('/oidc routes', () => {
  test('login redirects to the provider with PKCE, state and nonce, and sets the login cookie', async () => {
    const res = await fetch(`${live}/oidc/login`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).toBe(provider.url);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('redirect_uri')).toBe('https://auth.example/regauth/oidc/callback');
    for (const p of ['state', 'nonce', 'code_challenge']) expect(location.searchParams.get(p)).toBeTruthy();
    // redirect_url is https: a __Host- cookie (Secure, Path=/, no Domain), which no sibling host
    // or port can set or shadow.
    expect(res.headers.get('set-cookie')).toMatch(
      // A compact JWE (five parts, the key part empty with alg dir): the PKCE verifier is not readable.
      /^__Host-regauth_oidc=[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax; Secure$/,
    );
  });

  test('redirect_url with its scheme in capitals is https all the same: __Host- and Secure', async () => {
    // URL parsing (the config's check, the browser) folds the scheme; a prefix test of the text did
    // not, and the cookies lost Secure and __Host-.
    const upper = await serve(
      oidcBlock(provider.url, provider.clientId, 'HTTPS://auth.example/regauth/oidc/callback'),
    );
    const res = await fetch(`${upper}/oidc/login`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(
      /^__Host-regauth_oidc=[^;]+; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax; Secure$/,
    );
  });

  test('over http (loopback only): a plain cookie on the /oidc path, without Secure', async () => {
    const res = await fetch(`${plain}/oidc/login`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(
      /^regauth_oidc=[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+; Max-Age=600; Path=\/regauth\/oidc; HttpOnly; SameSite=Lax$/,
    );
  });

  test('the provider unreachable: a 503 page with Retry-After', async () => {
    const res = await fetch(`${dead}/oidc/login`, { redirect: 'manual' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    // The page that shows an app password is never framed, by old browsers (no CSP) either.
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });

  test.each(['/oidc/login', '/oidc/callback'])('%s without oidc_auth: 404 JSON', async (path) => {
    const res = await fetch(`${none}${path}`, { redirect: 'manual' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      errors: [{ code: 'NOT_FOUND', message: 'oidc_auth is not configured' }],
    });
  });

  test('HEAD on the callback is refused: it would spend the login on an answer nobody reads', async () => {
    const res = await fetch(`${live}/oidc/callback?code=x&state=y`, { method: 'HEAD' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    // Nothing was exchanged: the login cookie is left as it was.
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  test('the callback clears the login cookie even when it fails', async () => {
    const res = await fetch(`${live}/oidc/callback?code=x&state=y`);
    expect(res.status).toBe(400);
    expect(res.headers.get('set-cookie')).toBe(
      '__Host-regauth_oidc=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure',
    );
  });

  test('a callback without its login cookie says the sign-in was not started here, and to report it', async () => {
    const res = await fetch(`${live}/oidc/callback?code=abc&state=def`);
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).toContain('This sign-in was not started in this browser.');
    expect(body).toContain(
      'If you did not start it, close this page and report it to your registry administrator',
    );
    expect(body).not.toContain('id="app-password"');
  });

  test('over https the unprefixed cookie is not read: one planted by a sibling host starts nothing', async () => {
    const login = await fetch(`${live}/oidc/login`, { redirect: 'manual' });
    const value = /^__Host-regauth_oidc=([^;]+);/.exec(login.headers.get('set-cookie')!)![1]!;
    const state = new URL(login.headers.get('location')!).searchParams.get('state')!;
    const res = await fetch(`${live}/oidc/callback?code=x&state=${state}`, {
      headers: { cookie: `regauth_oidc=${value}` },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('This sign-in was not started in this browser.');
  });

  test.each([
    ['access_denied', 'access_denied'],
    ['temporarily_unavailable', 'temporarily_unavailable'],
  ])('error=%s from the provider: a fixed message with the code', async (code, shown) => {
    const res = await fetch(
      `${live}/oidc/callback?error=${code}&error_description=Call+555-0100+now&state=x`,
    );
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).toContain(`The identity provider did not complete the sign-in (error code ${shown}).`);
    expect(body).not.toContain('555-0100');
  });

  test.each([
    ['text', 'Your account is locked. Call 555-0100'],
    ['markup', '<a href="https://evil.example">verify here</a>'],
    ['a long word', 'x'.repeat(200)],
  ])('error= with %s: the fixed message only, none of the text', async (_name, text) => {
    const res = await fetch(`${live}/oidc/callback?error=${encodeURIComponent(text)}&state=x`);
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).toContain(
      'The identity provider did not complete the sign-in (an unrecognised error code).',
    );
    expect(body).not.toContain('555-0100');
    expect(body).not.toContain('evil.example');
    expect(body).not.toContain('xxxxxxxxxx');
  });
});

describe('providerErrorCode', () => {
  test.each([
    ['access_denied', 'access_denied'],
    ['interaction_required', 'interaction_required'],
    ['Call 555', undefined],
    ['<b>x</b>', undefined],
    ['', undefined],
    ['a'.repeat(65), undefined],
  ])('providerErrorCode(%j) = %j', (error, code) => {
    expect(providerErrorCode(error)).toBe(code);
  });
});
