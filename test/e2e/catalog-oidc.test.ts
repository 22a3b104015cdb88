import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestProvider, type TestProvider } from '../helpers/test-provider.js';
import { buildOciImage } from './harness/oci.js';
import { freePort } from './harness/ports.js';
import { push } from './harness/skopeo.js';
import { SERVICE, startStack, type Stack } from './harness/stack.js';

/**
 * The registry page signing in through oidc_auth (docs/catalog.md "Signing in with oidc_auth"):
 * oidc-provider as the identity provider, Chromium signing in, the real docker-registry holding
 * repositories pushed by skopeo. alice's groups (devs) come from the provider; the page shows
 * exactly what they let her pull, and her session ends at sign-out.
 */
const REPOSITORIES = ['other/thing', 'public/base', 'secret/keys', 'team/app', 'team/web'];

describe('/ui/ with oidc_auth: sign in at the provider, browse, sign out', () => {
  const tmp = tempDir('regauth-catalog-oidc-e2e-');
  const adminPassword = randomPassword();
  let provider: TestProvider;
  let s: Stack;
  let browser: Browser;
  let base = '';

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    provider = await startTestProvider(`${base}/oidc/callback`);
    const secretFile = join(tmp.dir, 'oidc.secret');
    writeFileSync(secretFile, randomBytes(48).toString('base64'), { mode: 0o600 });
    const clientSecretFile = join(tmp.dir, 'client.secret');
    writeFileSync(clientSecretFile, provider.clientSecret, { mode: 0o600 });
    const config = (catalog: string) => `users:
  admin: {password: "${hash(adminPassword)}", labels: {group: [admins]}}
oidc_auth:
  issuer: ${provider.url}
  client_id: ${provider.clientId}
  client_secret_file: ${clientSecretFile}
  redirect_url: ${base}/oidc/callback
  scopes: [openid, profile, groups]
  user_claim: preferred_username
  label_claims: [groups]
  registry_url: ${SERVICE}
  secret_file: ${secretFile}
acl:
  - match: {labels: {group: admins}}
    actions: ["*"]
  - match: {labels: {groups: devs}, name: "team/*"}
    actions: [pull, push]
  - match: {name: "secret/**"}
    actions: []
  - match: {name: "public/*"}
    actions: [pull]
${catalog}`;
    s = await startStack({
      name: 'catalog-oidc',
      tmp,
      addr: `127.0.0.1:${port}`,
      token: `  services: [${SERVICE}]`,
      config: config(''),
    });
    // Now that the registry's address is known: the catalog section, and a reload to apply it.
    s.writeConfig({
      config: config(`catalog:
  registry_url: ${s.registry.url}
  realm: ${base}/auth
  ui_session: 10m
`),
    });
    await s.regauth.reload();
    const image = await buildOciImage(join(tmp.dir, 'image'), 'v1');
    for (const repo of REPOSITORIES) {
      const pushed = await push(image.ref, s.registry.host, repo, 'v1', {
        user: 'admin',
        password: adminPassword,
      });
      expect(pushed.code, `${repo}: ${pushed.stderr}`).toBe(0);
    }
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await provider?.stop();
    tmp.cleanup();
  });

  /** Opens `path` of regauth in a fresh browser, signs in as `login` at the provider, and waits to be back at `back`. */
  async function signIn(
    path: string,
    login: string,
    back = path,
  ): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}${path}`);
    expect(page.url().startsWith(provider.url)).toBe(true);
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'any password');
    await page.click('button[type=submit]');
    // The consent prompt: one Continue button.
    await page.click('button[type=submit]');
    await page.waitForURL((url) => url.href === `${base}${back}`);
    return { context, page };
  }

  test('back at the tag asked for; exactly her repositories; a tag; sign-out ends the session', async () => {
    const { context, page } = await signIn('/ui/tag?name=team/app&tag=v1', 'alice');
    const scripts: string[] = [];
    // A script that ran would log or open a dialog (the 404 below logs a failed load: not a script).
    page.on('console', (m) => {
      if (!m.text().startsWith('Failed to load resource')) scripts.push(m.text());
    });
    page.on('dialog', (d) => {
      scripts.push(d.message());
      void d.dismiss();
    });
    try {
      expect(await page.textContent('#tag')).toBe('team/app:v1');
      expect(await page.textContent('#pull')).toBe(`docker pull 127.0.0.1:${new URL(base).port}/team/app:v1`);

      // The session cookie: HttpOnly, SameSite=Lax, on the page's path (http on loopback: no
      // __Host- prefix, which needs Secure), and the login cookie spent.
      const cookies = await context.cookies();
      const session = cookies.find((c) => c.name === 'regauth_ui');
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/ui', secure: false });
      expect(session!.expires - Date.now() / 1000).toBeGreaterThan(500);
      expect(session!.expires - Date.now() / 1000).toBeLessThanOrEqual(600);
      expect(cookies.find((c) => c.name === 'regauth_oidc')).toBeUndefined();

      await page.click('text=Repositories');
      expect(await page.textContent('#account')).toBe('alice');
      expect(await page.locator('#repositories li').allTextContents()).toEqual([
        'public/base',
        'team/app',
        'team/web',
      ]);
      await page.click('text=team/web');
      expect(await page.locator('#tags li').allTextContents()).toEqual(['v1']);
      await page.click('#tags >> text=v1');
      expect(await page.textContent('#tag')).toBe('team/web:v1');
      expect(await page.textContent('#platforms')).toBe('linux/amd64');
      expect(await page.locator('script').count()).toBe(0);

      // What she may not pull is not there, as if it did not exist.
      const denied = await page.goto(`${base}/ui/repository?name=secret/keys`);
      expect(denied?.status()).toBe(404);

      await page.goto(`${base}/ui/`);
      await page.click('#sign-out button');
      expect(await page.textContent('#signed-out')).toContain('You have signed out');
      expect((await context.cookies()).find((c) => c.name === 'regauth_ui')).toBeUndefined();

      // The old cookie, replayed (copied before sign-out): back to the login, not the page.
      const replay = await fetch(`${base}/ui/`, {
        headers: { cookie: `regauth_ui=${session!.value}` },
        redirect: 'manual',
      });
      await replay.body?.cancel();
      expect(replay.status).toBe(303);
      expect(replay.headers.get('location')!.startsWith(provider.url)).toBe(true);
      expect(scripts).toEqual([]);
      expect(s.logs.join('')).not.toContain(session!.value);
    } finally {
      await context.close();
    }
  }, 60_000);

  test('another user sees only what anyone may pull, the name escaped', async () => {
    const { context, page } = await signIn('/ui/', 'mallory');
    try {
      expect(await page.textContent('#account')).toBe('mal<b>"lory');
      expect(await page.locator('#repositories li').allTextContents()).toEqual(['public/base']);
    } finally {
      await context.close();
    }
  }, 60_000);

  test('the app password page of /oidc/login is unchanged beside it', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${base}/oidc/login`);
      await page.fill('input[name=login]', 'alice');
      await page.fill('input[name=password]', 'any password');
      await page.click('button[type=submit]');
      await page.click('button[type=submit]');
      await page.waitForURL(`${base}/oidc/callback?**`);
      expect(await page.textContent('#account')).toBe('alice');
      expect((await page.textContent('#app-password'))!.trim()).toMatch(/^rga_/);
      // No page session from this login.
      expect((await context.cookies()).map((c) => c.name)).not.toContain('regauth_ui');
    } finally {
      await context.close();
    }
  }, 60_000);

  test('without a session, no Basic prompt: a redirect to the provider', async () => {
    const res = await fetch(`${base}/ui/`, { redirect: 'manual' });
    await res.body?.cancel();
    expect(res.status).toBe(303);
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect(res.headers.get('location')!.startsWith(`${provider.url}/`)).toBe(true);
  });
});
