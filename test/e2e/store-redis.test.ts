import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { basic, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { freePort } from './harness/ports.js';
import type { ProcessHandle } from './harness/proc.js';
import { startRedis, type RedisPeer } from './harness/redis.js';
import { SERVICE, startRegauthProcess } from './harness/stack.js';

/**
 * Three regauth processes sharing one real Redis (`store.type: redis`), hit round-robin: the
 * lockout holds for the service, not per process; Redis stopped or paused gives the documented
 * answers (503 + Retry-After for logins whose password must be checked, cached logins served),
 * never a 500 or a crash, and everything recovers once Redis is back.
 *
 * Password checks are counted by the ext_auth command (test/fixtures/ext/auth-count.sh), which
 * appends the account to a file every time it is run. Each test uses its own client address
 * (X-Forwarded-For from the trusted 127.0.0.1) and accounts.
 */

const FIXTURES = resolve(import.meta.dirname, '../fixtures/ext');
const MAX_FAILURES = 3;
const ACCOUNTS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina'] as const;
type Account = (typeof ACCOUNTS)[number];

describe('three replicas sharing one Redis', () => {
  const tmp = tempDir('regauth-store-redis-e2e-');
  const pw = Object.fromEntries(ACCOUNTS.map((a) => [a, randomPassword()])) as Record<Account, string>;
  const checks = join(tmp.dir, 'checks.log');
  let redis: RedisPeer;
  const replicas: { proc: ProcessHandle; url: string }[] = [];
  let next = 0;
  const statuses: number[] = [];

  beforeAll(async () => {
    ensureBuilt();
    redis = await startRedis({ dir: join(tmp.dir, 'redis') });
    const keys = await writeSigningKey(tmp.dir, 'ES256');
    const users = join(tmp.dir, 'users.txt');
    writeFileSync(users, ACCOUNTS.map((a) => `${a} ${pw[a]} dev\n`).join(''));
    writeFileSync(checks, '');
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const config = join(tmp.dir, `config-${i}.yml`);
      writeFileSync(
        config,
        `server:
  addr: "127.0.0.1:${port}"
  trusted_proxies: [127.0.0.1]
token: {issuer: "store e2e", key: ${keys.keyPath}, certificate: ${keys.certPath}}
log: {format: json}
store:
  type: redis
  url: ${redis.url}
  key_prefix: "e2e:"
  timeout_ms: 300
lockout:
  max_failures: ${MAX_FAILURES}
  backoff: 60
login_queue: {max_pending: 500, per_client: 500}
ext_auth:
  command: ${join(FIXTURES, 'auth-count.sh')}
  args: [${users}, ${checks}]
  timeout: 10
  max_concurrency: 200
  max_per_client: 200
acl: [{match: {}, actions: [pull]}]
`,
      );
      const url = `http://127.0.0.1:${port}`;
      const proc = await startRegauthProcess(config, url, { ready: '/readyz', name: `regauth-${i}` });
      replicas.push({ proc, url });
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.proc.stop()));
    redis?.resume();
    await redis?.stop();
    tmp.cleanup();
  });

  /** A token request to replica `at` (default: the next one, round-robin) from client `ip`. */
  const login = async (account: string, password: string, ip: string, at?: number) => {
    const replica = replicas[at ?? next++ % replicas.length]!;
    const res = await fetch(`${replica.url}/auth?service=${SERVICE}&scope=repository:x:pull`, {
      headers: { authorization: basic(account, password), 'x-forwarded-for': ip },
    });
    statuses.push(res.status);
    const body = await res.text();
    if (res.status === 200 || res.status >= 400) expect(() => JSON.parse(body)).not.toThrow();
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  };
  const checksOf = (account: string) =>
    readFileSync(checks, 'utf8')
      .split('\n')
      .filter((l) => l === account).length;
  const metric = async (at: number, name: string): Promise<number> => {
    const text = await (await fetch(`${replicas[at]!.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line === undefined ? NaN : Number(line.split(' ').at(-1));
  };
  const untilAll = async (what: string, ok: () => Promise<boolean>, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  afterAll(() => {
    // No answer of any test was a 500, and no replica died.
    expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
    for (const r of replicas) expect(r.proc.exitStatus()).toBeUndefined();
  });

  test('max_failures wrong passwords spread over the three lock the account for that client on all three', async () => {
    const ip = '10.1.0.1';
    for (let i = 0; i < MAX_FAILURES; i++)
      expect((await login('alice', `wrong-${i}`, ip, i)).status).toBe(401);
    for (let at = 0; at < 3; at++) {
      const locked = await login('alice', pw.alice, ip, at);
      expect(locked.status).toBe(429);
      expect(Number(locked.retryAfter)).toBeGreaterThan(0);
    }
    // Another client is not held back, on any replica.
    for (let at = 0; at < 3; at++) expect((await login('alice', pw.alice, '10.1.0.2', at)).status).toBe(200);
    // Each replica checks the right password once (the credential cache is per process).
    expect(checksOf('alice')).toBe(MAX_FAILURES + 3);
  });

  test('a lock set through one replica holds back the right password on a replica it passed moments ago', async () => {
    // A user and a guesser behind one address (a NAT): the user logs in through replica 0, which
    // remembers the pass for a few seconds; the guesses lock the pair through replica 1.
    const ip = '10.1.1.1';
    expect((await login('gina', pw.gina, ip, 0)).status).toBe(200);
    for (let i = 0; i < MAX_FAILURES; i++)
      expect((await login('gina', `wrong-${i}`, ip, 1)).status).toBe(401);
    // Replica 0 hears of the lock within a round trip of Redis.
    await new Promise((r) => setTimeout(r, 100));
    // While locked, no replica tells the right password from wrong ones: all 429.
    const candidates = [...Array.from({ length: 9 }, (_, i) => `guess-${i}`), pw.gina];
    const answers = await Promise.all(candidates.map((c) => login('gina', c, ip, 0)));
    expect(answers.map((a) => a.status)).toEqual(candidates.map(() => 429));
    for (let at = 0; at < 3; at++) expect((await login('gina', pw.gina, ip, at)).status).toBe(429);
  });

  test('100 concurrent attempts spread over the three check at most max_failures passwords in total', async () => {
    const ip = '10.2.0.1';
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => login('bob', `guess-${i}`, ip, i % 3)),
    );
    const counts = new Map<number, number>();
    for (const a of answers) counts.set(a.status, (counts.get(a.status) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([401, 429]);
    expect(counts.get(401)).toBe(MAX_FAILURES);
    expect(checksOf('bob')).toBe(MAX_FAILURES);
  });

  test('Redis stopped: 503 with Retry-After for logins to check, cached logins served, /readyz not ready; all recover', async () => {
    const ip = '10.3.0.1';
    // carol logs in on every replica: each caches her password (the credential cache is per process).
    for (let at = 0; at < 3; at++) expect((await login('carol', pw.carol, ip, at)).status).toBe(200);
    await redis.stop();
    try {
      for (let at = 0; at < 3; at++) {
        const started = Date.now();
        const refused = await login('dave', pw.dave, ip, at);
        expect(refused.status).toBe(503);
        expect(Number(refused.retryAfter)).toBeGreaterThan(0);
        expect(Date.now() - started).toBeLessThan(3_000);
        expect((await login('dave', 'wrong', ip, at)).status).toBe(503);
        expect((await login('carol', pw.carol, ip, at)).status).toBe(200);
        const ready = await fetch(`${replicas[at]!.url}/readyz`);
        expect(ready.status).toBe(503);
        // The public /readyz gives no reasons.
        expect(await ready.json()).toEqual({ status: 'not ready' });
        expect(await metric(at, 'regauth_store_up')).toBe(0);
      }
      expect(checksOf('dave')).toBe(0);
    } finally {
      await redis.start();
    }
    for (let at = 0; at < 3; at++) {
      await untilAll(
        `replica ${at} ready again`,
        async () => (await fetch(`${replicas[at]!.url}/readyz`)).ok,
      );
      expect((await login('dave', pw.dave, ip, at)).status).toBe(200);
      expect(await metric(at, 'regauth_store_up')).toBe(1);
    }
    for (const r of replicas) expect(r.proc.stdout()).not.toContain(pw.dave);
  });

  test.each([
    ['paused (SIGSTOP)', 'pause', 'erin'],
    ['busy (DEBUG SLEEP 5)', 'sleep', 'frank'],
  ] as const)(
    'Redis %s: logins to check get 503 at the store timeout, not after 15 s',
    async (_n, how, account) => {
      const ip = '10.4.0.1';
      let sleeping: Promise<string> | undefined;
      if (how === 'pause') redis.pause();
      else {
        sleeping = redis.cli('DEBUG', 'SLEEP', '5');
        await new Promise((r) => setTimeout(r, 200));
      }
      try {
        const started = Date.now();
        const answers = await Promise.all([0, 1, 2].map((at) => login(account, pw[account], ip, at)));
        expect(answers.map((a) => a.status)).toEqual([503, 503, 503]);
        expect(Date.now() - started).toBeLessThan(3_000);
      } finally {
        redis.resume();
        await sleeping;
      }
      for (let at = 0; at < 3; at++) {
        await untilAll(
          `replica ${at} ready again`,
          async () => (await fetch(`${replicas[at]!.url}/readyz`)).ok,
        );
        expect((await login(account, pw[account], ip, at)).status).toBe(200);
      }
    },
  );
});
