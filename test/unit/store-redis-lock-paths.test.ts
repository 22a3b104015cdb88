/**
 * The Redis store's lock channel over paths that misbehave without closing: a slow path (every
 * answer late), a black hole that swallows even our FIN, a SUBSCRIBE sent on a flow that just
 * died, a clock stepped back, and repeated reconnects while SUBSCRIBE is refused. The promise:
 * a replica that has not heard the channel answer within 1.5 s (measured from when it asked, on
 * a monotonic clock) has no news, so it remembers no login; it comes back by itself; and it
 * never retries faster than once a second.
 */
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { TooManyRequestsError, UnauthorizedError } from '../../src/core/errors.js';
import { Lockout, withLockout } from '../../src/guard/lockout.js';
import type { RedisStore } from '../../src/store/redis.js';
import { REDIS_LOCK_POLICY as POLICY, useRedisPeer } from '../helpers/redis-store.js';
import { sleep, until } from '../helpers/wait.js';

const { redis, servers, open, blackHoleProxy } = useRedisPeer({
  tmpPrefix: 'regauth-lock-paths-',
  password: 'admin-pw',
});
let n = 0;

afterEach(() => vi.restoreAllMocks());

function store(
  url: string,
  timeoutMs = 500,
  extra: Partial<ConstructorParameters<typeof RedisStore>[0]> = {},
) {
  return open({ url, keyPrefix: `rv${++n}:`, timeoutMs, password: { reveal: () => 'admin-pw' }, ...extra });
}

/** Redis → client bytes of the listening connection arrive `ms` late (in order, none lost). */
async function slowProxy(ms: number): Promise<string> {
  const server = createServer((client: Socket) => {
    const upstream = connect(redis.port, '127.0.0.1');
    let slow = false;
    client.on('data', (d) => {
      if (/subscribe/i.test(d.toString('latin1'))) slow = true;
      upstream.write(d);
    });
    upstream.on('data', (d) => (slow ? setTimeout(() => client.write(d), ms) : client.write(d)));
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `redis://127.0.0.1:${(server.address() as { port: number }).port}/0`;
}

async function subscribeCalls(): Promise<number> {
  const info = await redis.cli('INFO', 'commandstats');
  const line = info.split('\n').find((l) => l.startsWith('cmdstat_subscribe:')) ?? '';
  const m = /calls=(\d+).*?rejected_calls=(\d+)/.exec(line);
  return m ? Number(m[1]) + Number(m[2]) : 0;
}

describe('the lock channel over a path that misbehaves', () => {
  test('a lock heard 3 s late over a slow (not silent) path: the right password still gets 429', async () => {
    const url = await slowProxy(3_000);
    const prefix = `lat${++n}:`;
    const mk = (u: string) => store(u, 5_000, { keyPrefix: prefix });
    const here = mk(url);
    const there = mk(redis.url);
    expect(await until(() => there.lockout.lockNews!() !== undefined, 10_000)).toBe(true);
    await sleep(4_000); // the PING answers, each 3 s late, now arrive every 500 ms
    // ... and still no news over the slow path: an answer counts only within 1.5 s of its question.
    expect(here.lockout.lockNews!()).toBeUndefined();
    const lockout = new Lockout({ store: here.lockout, shared: true, policy: () => POLICY });
    const other = new Lockout({ store: there.lockout, shared: true, policy: () => POLICY });
    const ip = '10.7.0.1';
    const right = { account: 'alice', password: new Secret('right'), ip, cached: () => true };
    await withLockout(lockout, right, async () => ({ account: 'alice' }));
    for (let i = 0; i < POLICY.max_failures; i++)
      await expect(
        withLockout(other, { account: 'alice', password: new Secret(`x${i}`), ip }, async () => {
          throw new UnauthorizedError('bad password');
        }),
      ).rejects.toThrow();
    await sleep(1_700);
    await expect(withLockout(lockout, right, async () => ({ account: 'alice' }))).rejects.toBeInstanceOf(
      TooManyRequestsError,
    );
  }, 30_000);

  test('SUBSCRIBEs refused (an ACL user without the channel) stay at about one a second, however often it reconnects', async () => {
    const prefix = `chain${++n}:`;
    await redis.cli('ACL', 'SETUSER', 'chained', 'on', '>user-pw', `~${prefix}*`, 'resetchannels', '+@all');
    store(redis.url, 500, { keyPrefix: prefix, username: 'chained', password: { reveal: () => 'user-pw' } });
    await sleep(1_200);
    // Redis restarts, a load balancer idles the flow out...: the listening connection is closed now and then.
    for (let i = 0; i < 8; i++) {
      const list = await redis.cli('CLIENT', 'LIST');
      const ids = list
        .split('\n')
        .filter((l) => / user=chained /.test(l) && / cmd=subscribe /.test(l))
        .map((l) => /id=(\d+)/.exec(l)![1]!);
      for (const id of ids) await redis.cli('CLIENT', 'KILL', 'ID', id);
      await sleep(730);
    }
    await sleep(1_500);
    const before = await subscribeCalls();
    await sleep(3_000);
    expect(((await subscribeCalls()) - before) / 3).toBeLessThanOrEqual(1.5);
  }, 30_000);

  test('a listening connection silenced for good (its FIN swallowed too) reconnects and listens again', async () => {
    const proxy = await blackHoleProxy();
    const s = store(proxy.url);
    expect(await until(() => s.lockout.lockNews!() !== undefined, 5_000)).toBe(true);
    proxy.silence((c) => /subscribe/i.test(c.seen));
    expect(await until(() => s.lockout.lockNews!() === undefined, 3_000)).toBe(true);
    // Redis is fine and a new connection through the proxy works: it listens again soon.
    const back = await until(() => s.lockout.lockNews!() !== undefined, 8_000);
    expect({ back, subscribers: proxy.conns.filter((c) => /subscribe/i.test(c.seen)).length }).toEqual({
      back: true,
      subscribers: 2,
    });
  }, 20_000);

  test('a SUBSCRIBE sent on a flow that has just died: the store reconnects instead of retrying on it for ever', async () => {
    const proxy = await blackHoleProxy({ silenceOnSubscribe: 1 });
    const channel: (string | undefined)[] = [];
    const s = store(proxy.url, 500, { onLockChannel: (p) => channel.push(p) });
    await s.ping();
    const back = await until(() => s.lockout.lockNews!() !== undefined, 8_000);
    const subscribes = (proxy.conns[proxy.conns.length - 1]!.seen.match(/subscribe/gi) ?? []).length;
    expect({ back, channel, connections: proxy.conns.length, subscribesOnLast: subscribes }).toEqual({
      back: true,
      channel: expect.anything(),
      connections: 3,
      subscribesOnLast: 1,
    });
  }, 20_000);

  test('a clock stepped back (NTP) does not stretch the 1.5 s silence window (timeout_ms 5000)', async () => {
    const proxy = await blackHoleProxy();
    const s = store(proxy.url, 5_000);
    expect(await until(() => s.lockout.lockNews!() !== undefined, 5_000)).toBe(true);
    await sleep(600); // a PING answered: heardAt = now
    const real = Date.now.bind(Date);
    const stepped = vi.spyOn(Date, 'now').mockImplementation(() => real() - 60_000);
    try {
      // heartbeats keep answering: heardAt follows the stepped clock; then the flow goes silent
      proxy.silence((c) => /subscribe/i.test(c.seen));
      await sleep(2_500);
      // Heard nothing for 2.5 s: the docs promise no news (nothing remembered) after 1.5 s.
      expect(s.lockout.lockNews!()).toBeUndefined();
    } finally {
      stepped.mockRestore();
    }
  }, 20_000);
});

/** Unhandled rejections seen while `body` runs (the service logs each at error level; other hosts crash). */
async function unhandled(body: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const on = (reason: unknown) => seen.push(reason instanceof Error ? reason.message : String(reason));
  // vitest's own listener would fail the file: take its place while the body runs.
  const theirs = process.listeners('unhandledRejection');
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', on);
  try {
    await body();
  } finally {
    process.removeListener('unhandledRejection', on);
    for (const l of theirs) process.on('unhandledRejection', l as (...a: unknown[]) => void);
  }
  return seen;
}

/** A proxy whose new connections, once `swallow` is set, never get an answer to SUBSCRIBE. */
async function swallowingProxy() {
  const conns: (Socket & { seen: string })[] = [];
  const state = { swallow: false };
  const server = createServer((sock) => {
    const client = sock as Socket & { seen: string };
    client.seen = '';
    conns.push(client);
    const silent = state.swallow;
    let cut = false;
    const upstream = connect(redis.port, '127.0.0.1');
    client.on('data', (d) => {
      client.seen += d.toString('latin1');
      if (silent && /subscribe/i.test(d.toString('latin1'))) cut = true;
      if (!cut) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!cut) client.write(d);
    });
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `redis://127.0.0.1:${(server.address() as { port: number }).port}/0`, conns, state };
}

describe('ioredis re-subscribing by itself', () => {
  test('a reconnect whose SUBSCRIBE goes unanswered: no unhandled rejection (ioredis auto-resubscribe)', async () => {
    const p = await swallowingProxy();
    const s = open({ url: p.url, keyPrefix: `r3a${++n}:`, password: { reveal: () => 'admin-pw' } });
    expect(await until(() => s.lockout.lockNews!() !== undefined, 5_000)).toBe(true);
    const seen = await unhandled(async () => {
      p.state.swallow = true;
      // The listening connection is cut (Redis restarted, a load balancer idled it out...).
      p.conns.filter((c) => /subscribe/i.test(c.seen)).forEach((c) => c.destroy());
      await sleep(2_500);
    });
    expect(seen).toEqual([]);
  }, 20_000);

  test('the channel right revoked (Redis kills the subscriber): no unhandled rejection', async () => {
    const prefix = `r3b${++n}:`;
    await redis.cli(
      'ACL',
      'SETUSER',
      'revoked',
      'on',
      '>user-pw',
      `~${prefix}*`,
      `&${prefix}lockout:locks`,
      '+@all',
    );
    const problems: (string | undefined)[] = [];
    const s = open({
      keyPrefix: prefix,
      username: 'revoked',
      password: { reveal: () => 'user-pw' },
      onLockChannel: (p) => problems.push(p),
    });
    expect(await until(() => s.lockout.lockNews!() !== undefined, 5_000)).toBe(true);
    const seen = await unhandled(async () => {
      await redis.cli('ACL', 'SETUSER', 'revoked', 'resetchannels');
      await sleep(2_000);
    });
    expect({ seen, listening: s.lockout.lockNews!() !== undefined }).toEqual({ seen: [], listening: false });
  }, 20_000);
});
