import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { basic, tempDir } from '../helpers/fixtures.js';
import { startTestProvider, type TestProvider } from '../helpers/test-provider.js';
import { REPO_ROOT } from './harness/deploy.js';
import { buildOciImage } from './harness/oci.js';
import { freePort } from './harness/ports.js';
import { push } from './harness/skopeo.js';
import { SERVICE, startStack, type Stack } from './harness/stack.js';

/**
 * oidc_auth end to end: oidc-provider as the identity provider, real Chromium signing in,
 * the app password from the page used by skopeo against the real docker-registry.
 */
describe('oidc_auth: browser login that hands out app passwords', () => {
  const tmp = tempDir('regauth-oidc-e2e-');
  let provider: TestProvider;
  let s: Stack;
  let browser: Browser;
  /** The config after the header; `extra` goes at the end of the oidc_auth section. */
  let oidcConfig: (extra?: string) => string;

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    provider = await startTestProvider(`${base}/oidc/callback`);
    const secretFile = join(tmp.dir, 'oidc.secret');
    writeFileSync(secretFile, randomBytes(48).toString('base64'), { mode: 0o600 });
    const clientSecretFile = join(tmp.dir, 'client.secret');
    writeFileSync(clientSecretFile, provider.clientSecret, { mode: 0o600 });
    oidcConfig = (extra = '') => `oidc_auth:
  issuer: ${provider.url}
  client_id: ${provider.clientId}
  client_secret_file: ${clientSecretFile}
  redirect_url: ${base}/oidc/callback
  scopes: [openid, profile, groups]
  user_claim: preferred_username
  label_claims: [groups]
  registry_url: ${SERVICE}
  secret_file: ${secretFile}
${extra}
acl:
  - match: {labels: {groups: devs}, name: "team/*"}
    actions: [pull, push]
    comment: developers push to team/
`;
    s = await startStack({ name: 'oidc', tmp, addr: `127.0.0.1:${port}`, config: oidcConfig() });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await provider?.stop();
    tmp.cleanup();
  });

  /** Signs in at the provider's login and consent pages and returns the page regauth shows. */
  async function signIn(login: string): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${s.regauth.url}/oidc/login`);
    expect(page.url().startsWith(provider.url)).toBe(true);
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'any password');
    await page.click('button[type=submit]');
    // The consent prompt: one Continue button.
    await page.click('button[type=submit]');
    await page.waitForURL(`${s.regauth.url}/oidc/callback?**`);
    return page;
  }

  let appPassword = '';

  test('sign in, read the app password, push with it', async () => {
    const page = await signIn('alice');
    expect(await page.textContent('#account')).toBe('alice');
    appPassword = (await page.textContent('#app-password'))!.trim();
    expect(appPassword).toMatch(/^rga_/);
    expect(await page.textContent('#docker-login')).toBe(`docker login ${SERVICE} -u alice --password-stdin`);
    // The picture in docs/backends/oidc.md, with the app password masked (no secret in a picture):
    // rewritten only when asked (UPDATE_SCREENSHOTS=1), so a test run leaves the repository as it was.
    const shots = process.env['UPDATE_SCREENSHOTS'] === '1' ? join(REPO_ROOT, 'docs/images') : tmp.dir;
    mkdirSync(shots, { recursive: true });
    const png = await page.screenshot({
      path: join(shots, 'oidc-app-password.png'),
      fullPage: true,
      mask: [page.locator('#app-password')],
    });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    await page.context().close();

    const image = await buildOciImage(join(tmp.dir, 'img-alice'), 'v1');
    const pushed = await push(image.ref, s.registry.host, 'team/app', 'v1', {
      user: 'alice',
      password: appPassword,
    });
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    // The labels (groups: devs) decide: nothing outside team/.
    const elsewhere = await push(image.ref, s.registry.host, 'other/app', 'v1', {
      user: 'alice',
      password: appPassword,
    });
    expect(elsewhere.code).not.toBe(0);
    expect(s.logs.join('')).not.toContain(appPassword.slice(20));
  });

  const tokenStatus = async (user: string, password: string) =>
    (
      await fetch(`${s.regauth.url}/auth?service=${SERVICE}&scope=repository:team/app:pull`, {
        headers: { authorization: basic(user, password) },
      })
    ).status;

  test('an app password is only the password of its own account, and not when tampered', async () => {
    expect(await tokenStatus('alice', appPassword)).toBe(200);
    expect(await tokenStatus('bob', appPassword)).toBe(401);
    // One character of the signature changed (not the last: its low bits are padding that
    // base64url decoding ignores, so a change there can leave the signature as it was).
    const at = appPassword.length - 10;
    const tampered = `${appPassword.slice(0, at)}${appPassword[at] === 'A' ? 'B' : 'A'}${appPassword.slice(at + 1)}`;
    expect(await tokenStatus('alice', tampered)).toBe(401);
  });

  test('the page escapes what it shows', async () => {
    const page = await signIn('mallory');
    expect(await page.textContent('#account')).toBe('mal<b>"lory');
    const html = await page.content();
    expect(html).not.toContain('<b>"lory');
    await page.context().close();
  });

  test.each([
    ['without the login cookie', '?code=abc&state=def', /This sign-in was not started in this browser\./],
    [
      'with an error from the provider',
      '?error=access_denied&state=x',
      /did not complete the sign-in \(error code access_denied\)/,
    ],
  ])('the callback %s: a 400 page, no stack trace', async (_name, query, message) => {
    const res = await fetch(`${s.regauth.url}/oidc/callback${query}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const body = await res.text();
    expect(body).toMatch(message);
    expect(body).not.toMatch(/\n\s+at |\.[jt]s:\d|Error:/);
  });

  /**
   * Starts a login outside the browser (its cookie kept here), then lets a browser sign in at
   * the provider with that authorization URL, and returns the callback URL the browser landed on.
   */
  async function callbackUrlFor(authorizationUrl: string, page: Page, login: string): Promise<string> {
    await page.goto(authorizationUrl);
    if (await page.$('input[name=login]')) {
      await page.fill('input[name=login]', login);
      await page.fill('input[name=password]', 'any password');
      await page.click('button[type=submit]');
    }
    if (!page.url().startsWith(`${s.regauth.url}/oidc/callback?`)) await page.click('button[type=submit]');
    await page.waitForURL(`${s.regauth.url}/oidc/callback?**`);
    return page.url();
  }

  test('one login cookie yields one app password, even for two codes sent at once', async () => {
    const start = await fetch(`${s.regauth.url}/oidc/login`, { redirect: 'manual' });
    const cookie = start.headers.get('set-cookie')!.split(';')[0]!;
    const authorizationUrl = start.headers.get('location')!;
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // The same authorization request three times: the provider hands out a code for the same
      // state each time. The browser holds no login cookie, so none of them is used here.
      const urls: string[] = [];
      for (let i = 0; i < 3; i++) urls.push(await callbackUrlFor(authorizationUrl, page, 'alice'));
      expect(new Set(urls.map((u) => new URL(u).searchParams.get('code'))).size).toBe(3);
      const callback = async (url: string) => {
        const res = await fetch(url, { headers: { cookie } });
        return { status: res.status, body: await res.text() };
      };
      const raced = await Promise.all([callback(urls[0]!), callback(urls[1]!)]);
      expect(raced.map((r) => r.status).sort()).toEqual([200, 400]);
      expect(raced.filter((r) => r.body.includes('id="app-password"'))).toHaveLength(1);
      expect(raced.find((r) => r.status === 400)!.body).toMatch(/already been used/);
      const later = await callback(urls[2]!);
      expect(later.status).toBe(400);
      expect(later.body).not.toContain('id="app-password"');
      expect(later.body).toMatch(/already been used/);
      // The codes and states of the callback URLs never reach regauth's log.
      for (const url of urls)
        for (const value of new URL(url).searchParams.values()) expect(s.logs.join('')).not.toContain(value);
    } finally {
      await context.close();
    }
  });

  test('a forged login cookie is refused, with the warning of a sign-in started elsewhere', async () => {
    const res = await fetch(`${s.regauth.url}/oidc/callback?code=abc&state=def`, {
      headers: { cookie: 'regauth_oidc=eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl' },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/not started in this browser/);
  });

  test("with user_claim: email, only a verified address names the account (eve typed alice's)", async () => {
    s.writeConfig({
      config: oidcConfig()
        .replace('user_claim: preferred_username', 'user_claim: email')
        .replace('scopes: [openid, profile, groups]', 'scopes: [openid, email, profile, groups]'),
    });
    await s.regauth.reload();
    try {
      const eve = await signIn('eve');
      expect(await eve.textContent('#error')).toMatch(/has not verified this email address/);
      expect(await eve.$('#app-password')).toBeNull();
      await eve.context().close();
      const alice = await signIn('alice');
      expect(await alice.textContent('#account')).toBe('alice@example.test');
      await alice.context().close();
    } finally {
      s.writeConfig({ config: oidcConfig() });
      await s.regauth.reload();
    }
  });

  test('not_before revokes the app passwords issued earlier (hot reload)', async () => {
    expect(await tokenStatus('alice', appPassword)).toBe(200);
    const later = new Date(Date.now() + 2000).toISOString();
    s.writeConfig({ config: oidcConfig(`  not_before:\n    alice: "${later}"`) });
    await s.regauth.reload();
    expect(await tokenStatus('alice', appPassword)).toBe(401);
  });
});
