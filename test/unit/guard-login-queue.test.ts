import bcrypt from 'bcryptjs';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loginQueueSchema } from '../../src/guard/config.js';
import { ServerBusyError, TooManyRequestsError } from '../../src/core/errors.js';
import type { RunningServer } from '../../src/http/server.js';
import { LoginQueue, type LoginQueuePolicy } from '../../src/guard/login-queue.js';
import { createMetrics } from '../../src/pipeline/metrics.js';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.js';
import { loadConfigText } from '../../src/config/load.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import { basic, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { join } from 'node:path';
import { startTestServer } from '../helpers/server.js';

describe('LoginQueue', () => {
  test('bounds the logins in flight per process and per client; leaving twice gives back one place', () => {
    const rejected: string[] = [];
    const seen: number[] = [];
    const policy: LoginQueuePolicy = { max_pending: 3, per_client: 2, retry_after: 7, ipv6_prefix: 64 };
    const queue = new LoginQueue({
      policy: () => policy,
      onChange: (n) => seen.push(n),
      onReject: (r) => rejected.push(r),
    });
    const a1 = queue.enter('10.0.0.1');
    queue.enter('10.0.0.1');
    const tooMany = (() => {
      try {
        queue.enter('10.0.0.1');
      } catch (err) {
        return err;
      }
    })();
    expect(tooMany).toBeInstanceOf(TooManyRequestsError);
    expect((tooMany as TooManyRequestsError).retryAfterSeconds).toBe(7);
    queue.enter(null);
    expect(() => queue.enter('10.0.0.2')).toThrow(ServerBusyError);
    expect(rejected).toEqual(['per_client', 'full']);
    a1();
    a1();
    expect(queue.pending).toBe(2);
    expect(() => queue.enter('10.0.0.2')).not.toThrow();
    expect(Math.max(...seen)).toBe(3);
  });
});

describe('a flood of uncached logins over HTTP', () => {
  const tmp = tempDir();
  const password = randomPassword();
  let runtime: Runtime;
  let server: RunningServer;
  let url: string;
  let highest = 0;
  const metrics = createMetrics();

  beforeAll(async () => {
    // Cost 9: every made-up login burns one comparison at it (several per core in the flood).
    const started = await startTestServer({
      dir: tmp.dir,
      config: ({ keyPath, certPath }) =>
        `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}\ntoken: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nusers:\n  alice: {password: "${bcrypt.hashSync(password, 9)}"}\nlogin_queue: {max_pending: 4, per_client: 2, retry_after: 3}\nacl: [{match: {}, actions: [pull]}]\n`,
      server: {
        metrics,
        loginQueue: new LoginQueue({
          policy: () => runtime.loginQueue,
          onChange: (n) => {
            highest = Math.max(highest, n);
            metrics.loginQueuePending.set(n);
          },
          onReject: (reason) => metrics.loginQueueRejections.inc({ reason }),
        }),
      },
    });
    runtime = started.runtime;
    server = started.server;
    url = started.url;
  });
  afterAll(async () => {
    await server.close(100);
    tmp.cleanup();
  });

  const login = (user: string, pw: string, client: string) =>
    fetch(`${url}/auth?service=s&scope=repository:x:pull`, {
      headers: { authorization: basic(user, pw), 'x-forwarded-for': client },
    });

  test('overflow is answered at once with 503 or 429 and Retry-After; a cached login never waits', async () => {
    // alice logs in once: her credentials are cached from now on.
    expect((await login('alice', password, '10.1.0.1')).status).toBe(200);

    // 60 made-up logins at once from 30 addresses (2 each, within per_client).
    const flood = Array.from({ length: 60 }, async (_, i) => {
      const res = await login(`nobody${i}`, 'guess', `10.2.0.${i % 30}`);
      const body = (await res.json()) as { errors: { code: string; message: string }[] };
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
    });
    // While the flood is in flight, the cached login is answered without queueing.
    await new Promise((r) => setTimeout(r, 50));
    const startedCached = performance.now();
    const cached = await login('alice', password, '10.1.0.1');
    const cachedMs = performance.now() - startedCached;
    const answers = await Promise.all(flood);

    expect(cached.status).toBe(200);
    // The flood queues seconds of cost-9 comparisons; a cached login needs none (generous bound: a busy machine).
    expect(cachedMs).toBeLessThan(1_000);
    expect(highest).toBeLessThanOrEqual(4);
    const busy = answers.filter((a) => a.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    for (const a of busy) {
      expect(a.retryAfter).toBe('3');
      expect(a.body.errors[0]).toEqual({
        code: 'UNAVAILABLE',
        message: 'too many logins in progress, retry later',
      });
    }
    expect(answers.every((a) => a.status === 401 || a.status === 503)).toBe(true);
    const text = await metrics.registry.metrics();
    expect(text).toContain(`regauth_login_queue_rejections_total{reason="full"} ${busy.length}`);
    expect(text).toContain('regauth_login_queue_pending 0');
  });

  test('one address gets at most per_client uncached logins in flight; past it 429; another address is not affected', async () => {
    highest = 0;
    const flood = Array.from({ length: 8 }, async (_, i) => {
      const res = await login(`nobody-x${i}`, 'guess', '10.3.0.1');
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
    });
    await new Promise((r) => setTimeout(r, 20));
    const other = await login('nobody-y', 'guess', '10.3.0.2');
    const answers = await Promise.all(flood);
    expect(other.status).toBe(401);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status === 401).length).toBeGreaterThanOrEqual(2);
    for (const a of limited) {
      expect(a.retryAfter).toBe('3');
      expect(a.body).toEqual({
        errors: [
          { code: 'TOOMANYREQUESTS', message: 'too many logins in progress from this address, retry later' },
        ],
      });
    }
    expect(highest).toBeLessThanOrEqual(3);
  });

  test('the addresses of one IPv6 /64 count as one client, as the lockout counts them', async () => {
    // One subscriber holds a /64: a fresh address per request must not get past per_client.
    highest = 0;
    const flood = Array.from({ length: 8 }, async (_, i) => {
      const res = await login(`nobody-v6-${i}`, 'guess', `2001:db8:1:2::${(i + 1).toString(16)}`);
      return { status: res.status, body: await res.json() };
    });
    const answers = await Promise.all(flood);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.body).toEqual({
      errors: [
        { code: 'TOOMANYREQUESTS', message: 'too many logins in progress from this address, retry later' },
      ],
    });
    expect(answers.filter((a) => a.status === 401).length).toBeGreaterThanOrEqual(2);
  });
});

describe('login_queue config', () => {
  test('defaults: 16 pending logins per core, 8 per client, Retry-After 1 s', () => {
    expect(loginQueueSchema.parse({})).toEqual({
      max_pending: 16 * availableParallelism(),
      per_client: 8,
      retry_after: 1,
    });
    expect(loginQueueSchema.parse({ max_pending: 64, retry_after: '1m' })).toMatchObject({
      max_pending: 64,
      retry_after: 60,
    });
  });

  test.each([
    ['', 8],
    ['ext_auth: {command: /bin/true}', 2],
    ['ext_auth: {command: /bin/true, max_concurrency: 40}', 8],
    ['ext_auth: {command: /bin/true, max_per_client: 5}\nlogin_queue: {per_client: 3}', 3],
    ['ext_auth: {command: /bin/true, max_concurrency: 40, max_per_client: 5}', 5],
  ])(
    'with %j the queue allows %d logins per client (ext_auth.max_per_client bounds it)',
    async (extra, perClient) => {
      const tmp = tempDir();
      try {
        const { keyPath, certPath } = await writeSigningKey(tmp.dir);
        const yaml = `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nacl: []\n${extra}\n`;
        const runtime = createRuntime(loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') }));
        expect(runtime.loginQueue).toMatchObject({ per_client: perClient, retry_after: 1 });
      } finally {
        tmp.cleanup();
      }
    },
  );

  test.each([
    ['', { anonymous: false, login: true }],
    ['ext_auth: {command: /bin/true}', { anonymous: true, login: true }],
    ['ext_auth: {command: /bin/true}\nusers: {"": {}}', { anonymous: false, login: true }],
  ])('with %j, needs a place: %j (with ext_auth, whatever may run its command)', async (extra, want) => {
    const tmp = tempDir();
    try {
      const { keyPath, certPath } = await writeSigningKey(tmp.dir);
      const yaml = `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nacl: []\n${extra}\n`;
      const runtime = createRuntime(loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') }));
      const queued = (authorization?: string) =>
        runtime.queued(
          parseTokenRequest({ method: 'GET', query: 'service=x', authorization, body: '' }),
          () => false,
        );
      expect({ anonymous: queued(), login: queued(basic('nobody', 'x')) }).toEqual(want);
    } finally {
      tmp.cleanup();
    }
  });

  test.each([
    [{ max_pending: 0 }, 'must be at least 1'],
    [{ per_client: 0 }, 'must be at least 1'],
    [{ retry_after: 0 }, 'must be at least 1 second'],
    [{ queue: 3 }, 'unknown key; expected one of max_pending, per_client, retry_after'],
  ])('%j is refused: %s', (value, message) => {
    const result = loginQueueSchema.safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(message);
  });
});
