import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
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

const oidcBlock = (issuer: string, clientId: string) => {
  const secretFile = join(tmp.dir, `secret-${randomBytes(4).toString('hex')}`);
  writeFileSync(secretFile, randomBytes(48).toString('base64'));
  return `oidc_auth:\n  issuer: ${issuer}\n  client_id: ${clientId}\n  redirect_url: https://auth.example/regauth/oidc/callback\n  registry_url: registry.example\n  secret_file: ${secretFile}\n`;
};

beforeAll(async () => {
  provider = await startTestProvider('https://auth.example/regauth/oidc/callback');
  live = await serve(oidcBlock(provider.url, provider.clientId));
  dead = await serve(oidcBlock('http://127.0.0.1:9', 'x'));
  none = await serve('');
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
    // redirect_url is https, so the cookie is Secure as well.
    expect(res.headers.get('set-cookie')).toMatch(
      // A compact JWE (five parts, the key part empty with alg dir): the PKCE verifier is not readable.
      /^regauth_oidc=[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+; Max-Age=600; Path=\/regauth\/oidc; HttpOnly; SameSite=Lax; Secure$/,
    );
  });

  test('the provider unreachable: a 503 page with Retry-After', async () => {
    const res = await fetch(`${dead}/oidc/login`, { redirect: 'manual' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  test.each(['/oidc/login', '/oidc/callback'])('%s without oidc_auth: 404 JSON', async (path) => {
    const res = await fetch(`${none}${path}`, { redirect: 'manual' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      errors: [{ code: 'NOT_FOUND', message: 'oidc_auth is not configured' }],
    });
  });

  test('the callback clears the login cookie even when it fails', async () => {
    const res = await fetch(`${live}/oidc/callback?code=x&state=y`);
    expect(res.status).toBe(400);
    expect(res.headers.get('set-cookie')).toMatch(/^regauth_oidc=; Max-Age=0;/);
  });
});
