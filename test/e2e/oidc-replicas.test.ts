import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { startTestProvider, type TestProvider } from '../helpers/test-provider.js';
import { freePort } from './harness/ports.js';
import type { ProcessHandle } from './harness/proc.js';
import { startRedis, type RedisPeer } from './harness/redis.js';
import { SERVICE, startRegauthProcess } from './harness/stack.js';

/**
 * Two regauth processes behind one OIDC client, sharing one real Redis (`store.type: redis`),
 * as replicas behind a load balancer are: a login cookie spent on one replica is refused on
 * the other, so one login yields one app password however the callbacks are spread. The
 * provider is oidc-provider; Chromium signs in at it.
 */
describe('oidc_auth on two replicas sharing Redis', () => {
  const tmp = tempDir('regauth-oidc-replicas-e2e-');
  let provider: TestProvider;
  let redis: RedisPeer;
  let browser: Browser;
  const replicas: { proc: ProcessHandle; url: string }[] = [];

  beforeAll(async () => {
    ensureBuilt();
    redis = await startRedis({ dir: join(tmp.dir, 'redis') });
    const ports = [await freePort(), await freePort()];
    // The provider knows one callback: replica 0's address, as behind a balancer both replicas
    // share the public one.
    const callback = `http://127.0.0.1:${ports[0]}/oidc/callback`;
    provider = await startTestProvider(callback);
    const keys = await writeSigningKey(tmp.dir, 'ES256');
    const secretFile = join(tmp.dir, 'oidc.secret');
    writeFileSync(secretFile, randomBytes(48).toString('base64'), { mode: 0o600 });
    const clientSecretFile = join(tmp.dir, 'client.secret');
    writeFileSync(clientSecretFile, provider.clientSecret, { mode: 0o600 });
    for (const [i, port] of ports.entries()) {
      const config = join(tmp.dir, `config-${i}.yml`);
      writeFileSync(
        config,
        `server:
  addr: "127.0.0.1:${port}"
token: {issuer: "oidc replicas e2e", key: ${keys.keyPath}, certificate: ${keys.certPath}}
log: {format: json}
store:
  type: redis
  url: ${redis.url}
  key_prefix: "oidc-e2e:"
oidc_auth:
  issuer: ${provider.url}
  client_id: ${provider.clientId}
  client_secret_file: ${clientSecretFile}
  redirect_url: ${callback}
  scopes: [openid, profile, groups]
  user_claim: preferred_username
  label_claims: [groups]
  registry_url: ${SERVICE}
  secret_file: ${secretFile}
acl: [{match: {labels: {groups: devs}, name: "team/*"}, actions: [pull]}]
`,
      );
      const url = `http://127.0.0.1:${port}`;
      const proc = await startRegauthProcess(config, url, { ready: '/readyz', name: `regauth-${i}` });
      replicas.push({ proc, url });
    }
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(replicas.map((r) => r.proc.stop()));
    await provider?.stop();
    await redis?.stop();
    tmp.cleanup();
  });

  /** Lets the browser sign in at the provider and returns the callback URL it was sent to. */
  async function codeFor(authorizationUrl: string, page: Page): Promise<string> {
    await page.goto(authorizationUrl);
    if (await page.$('input[name=login]')) {
      await page.fill('input[name=login]', 'alice');
      await page.fill('input[name=password]', 'any password');
      await page.click('button[type=submit]');
    }
    // The consent prompt, the first time.
    if (!page.url().startsWith(`${replicas[0]!.url}/oidc/callback?`)) await page.click('button[type=submit]');
    await page.waitForURL(`${replicas[0]!.url}/oidc/callback?**`);
    return page.url();
  }

  test('a login cookie spent on one replica is refused on the other', async () => {
    // The login starts at replica 0; its cookie is kept here, not in the browser.
    const start = await fetch(`${replicas[0]!.url}/oidc/login`, { redirect: 'manual' });
    expect(start.status).toBe(303);
    const cookie = start.headers.get('set-cookie')!.split(';')[0]!;
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // The same authorization request twice: two codes for the same state and cookie.
      const first = await codeFor(start.headers.get('location')!, page);
      const second = await codeFor(start.headers.get('location')!, page);
      expect(new URL(first).searchParams.get('code')).not.toBe(new URL(second).searchParams.get('code'));
      const callback = async (url: string, at: number) => {
        const path = url.slice(replicas[0]!.url.length);
        const res = await fetch(`${replicas[at]!.url}${path}`, { headers: { cookie } });
        return { status: res.status, body: await res.text() };
      };
      const spent = await callback(first, 0);
      expect(spent.status).toBe(200);
      expect(spent.body).toContain('id="app-password"');
      const replayed = await callback(second, 1);
      expect(replayed.status).toBe(400);
      expect(replayed.body).toMatch(/already been used/);
      expect(replayed.body).not.toContain('id="app-password"');
    } finally {
      await context.close();
    }
  });
});
