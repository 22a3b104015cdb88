import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { UiSessions } from '../../src/oidc/session.js';
import { Secret } from '../../src/core/secret.js';
import { RedisStore } from '../../src/store/redis.js';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTestProvider, type TestProvider } from '../helpers/test-provider.js';
import { startRedis, type RedisPeer } from '../e2e/harness/redis.js';

/**
 * Two replicas of the registry page with `oidc_auth` sharing one real Redis (`store.type:
 * redis`): a sign-out on one holds on the other; while Redis cannot answer, a session is not
 * taken on trust (503, never a 500), under either `store.on_store_error` (replica 0 keeps the
 * default fail_closed, replica 1 says fail_open: that loosens the lockout's limits, never a
 * sign-out). The registry is unreachable here, so a request a session
 * opens ends in 503 (the page's own answer), one it does not in a redirect to the provider.
 */
const tmp = tempDir();
let provider: TestProvider;
let redis: RedisPeer;
const replicas: TestServer[] = [];
const stores: RedisStore[] = [];
let sessions: UiSessions;

beforeAll(async () => {
  provider = await startTestProvider('https://auth.example/oidc/callback');
  redis = await startRedis({ dir: join(tmp.dir, 'redis') });
  const secret = randomBytes(48).toString('base64');
  const secretFile = join(tmp.dir, 'oidc.secret');
  writeFileSync(secretFile, secret);
  sessions = new UiSessions(new Secret(secret));
  for (let i = 0; i < 2; i++) {
    const store = new RedisStore({ url: redis.url, keyPrefix: 'ui:', timeoutMs: 300 });
    stores.push(store);
    const dir = join(tmp.dir, `replica-${i}`);
    mkdirSync(dir);
    replicas.push(
      await startTestServer({
        dir,
        server: { store },
        config: ({ keyPath, certPath }) => `server:
  addr: "127.0.0.1:0"
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [registry.example]
oidc_auth:
  issuer: ${provider.url}
  client_id: ${provider.clientId}
  redirect_url: https://auth.example/oidc/callback
  registry_url: registry.example
  secret_file: ${secretFile}
${i === 1 ? 'store:\n  on_store_error: fail_open\n' : ''}catalog:
  registry_url: http://127.0.0.1:9
  realm: https://registry.example/auth
  timeout: 1
acl:
  - match: {labels: {groups: devs}, name: "team/*"}
    actions: [pull]
`,
      }),
    );
  }
});
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.server.close(100)));
  await Promise.all(stores.map((s) => s.close()));
  redis?.resume();
  await redis?.stop();
  await provider?.stop();
  tmp.cleanup();
});

const now = () => Math.floor(Date.now() / 1000);
const cookieHeader = (value: string) => ({ cookie: `__Host-regauth_ui=${value}` });
const page = (at: number, cookie: string) =>
  fetch(`${replicas[at]!.url}/ui/repository?name=team/app`, {
    headers: cookieHeader(cookie),
    redirect: 'manual',
  });

describe('/ui/ on two replicas sharing a Redis store', () => {
  test('a sign-out on one replica holds on the other', async () => {
    const { cookie, session } = await sessions.seal('alice', { groups: ['devs'] }, now(), 3600);
    expect((await page(1, cookie)).status).toBe(503);
    const out = await fetch(`${replicas[0]!.url}/ui/signout`, {
      method: 'POST',
      headers: { ...cookieHeader(cookie), 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${sessions.csrfToken(session)}`,
    });
    expect(out.status).toBe(200);
    const replay = await page(1, cookie);
    expect(replay.status).toBe(303);
    expect(new URL(replay.headers.get('location')!).origin).toBe(provider.url);
  });

  test('Redis stopped: a session is answered 503 with Retry-After under fail_closed and fail_open, not taken on trust, and the process goes on', async () => {
    const { cookie } = await sessions.seal('bob', { groups: ['devs'] }, now(), 3600);
    await redis.stop();
    try {
      for (const at of [0, 1]) {
        const res = await page(at, cookie);
        expect(res.status).toBe(503);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        const body = await res.text();
        // The store's answer, not the registry's: the session was not opened.
        expect(body).toContain('state store unavailable');
        expect(body).not.toContain('registry cannot be reached');
        expect(body).not.toMatch(/\n\s+at |\.[jt]s:\d/);
      }
    } finally {
      await redis.start();
    }
  });
});
