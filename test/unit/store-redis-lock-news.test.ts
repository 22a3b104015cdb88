/**
 * The Redis store's news of locks (a lock set through any replica ends every replica's 5-second
 * memory of logins that passed) against what a real network and a real Redis do: an ACL user
 * without channel rights, a connection that goes silent without closing, a SUBSCRIBE answered
 * late, and a `remember_success` shorter than the memory.
 */
import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { Lockout, withLockout, type LockoutPolicy } from '../../src/guard/lockout.js';
import { TooManyRequestsError } from '../../src/core/errors.js';
import { REDIS_LOCK_POLICY as POLICY, useRedisPeer } from '../helpers/redis-store.js';
import { until } from '../helpers/wait.js';

const { redis, servers, open } = useRedisPeer({ tmpPrefix: 'regauth-review-', password: 'admin-pw' });
let prefixes = 0;

function store(prefix: string, opts: { url?: string; username?: string; password?: string } = {}) {
  return open({
    url: opts.url ?? redis.url,
    keyPrefix: prefix,
    password: { reveal: () => opts.password ?? 'admin-pw' },
    ...(opts.username ? { username: opts.username } : {}),
  });
}

const ok = async () => ({ account: 'alice' });
const refuse = async (): Promise<never> => {
  const { UnauthorizedError } = await import('../../src/core/errors.js');
  throw new UnauthorizedError('bad password');
};

/**
 * A TCP proxy to Redis whose connections can be silenced: bytes stop flowing both ways, but
 * neither end sees a FIN or RST (a NAT or firewall that dropped an idle flow, a half-open TCP).
 */
async function silencingProxy(
  opts: { delaySubscribeReplyMs?: number } = {},
): Promise<{ url: string; silence(which: (s: Socket) => boolean): void; conns: Socket[] }> {
  const conns: Socket[] = [];
  const silenced = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(redis.port, '127.0.0.1');
    (client as Socket & { seen?: string }).seen = '';
    conns.push(client);
    let held: Buffer[] | undefined;
    client.on('data', (d) => {
      (client as Socket & { seen?: string }).seen += d.toString('latin1');
      if (opts.delaySubscribeReplyMs && /subscribe/i.test(d.toString('latin1'))) {
        // Hold Redis' answers on this connection for a while, once.
        held = [];
        const ms = opts.delaySubscribeReplyMs;
        opts.delaySubscribeReplyMs = undefined;
        setTimeout(() => {
          for (const b of held ?? []) client.write(b);
          held = undefined;
        }, ms);
      }
      if (!silenced.has(client)) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (silenced.has(client)) return;
      if (held) held.push(d);
      else client.write(d);
    });
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}/0`,
    conns,
    silence: (which) => conns.filter(which).forEach((c) => silenced.add(c)),
  };
}

describe('the redis store’s news of locks, under trouble', () => {
  test('a Redis 7 ACL user without channel rights: a lock still works and is no store error; the channel’s problem is told', async () => {
    const prefix = `acl${++prefixes}:`;
    // The usual least-privilege user: its keys and every command; Redis 7 gives no channels by default.
    await redis.cli('ACL', 'SETUSER', 'regauth', 'on', '>user-pw', `~${prefix}*`, '+@all');
    const problems: (string | undefined)[] = [];
    const channel: (string | undefined)[] = [];
    const s = open({
      keyPrefix: prefix,
      username: 'regauth',
      password: { reveal: () => 'user-pw' },
      onStatus: (p) => problems.push(p),
      onLockChannel: (p) => channel.push(p),
    });
    await s.ping();
    const policy = { ...POLICY };
    for (let i = 1; i < policy.max_failures; i++)
      expect(await s.lockout.failure('bob|1', 'bob', policy, Date.now())).toBe(false);
    const third = s.lockout.failure('bob|1', 'bob', policy, Date.now());
    await third.catch(() => undefined);
    // The lock is set all the same (a script is not rolled back) ...
    expect(await s.lockout.blocked('bob|1', 'bob', policy, Date.now())).toBeGreaterThan(0);
    // ... and the failure that set it is no store error: the lock is counted, store_up stays 1.
    expect(problems).toEqual([undefined]);
    await expect(third).resolves.toBe(true);
    expect(s.problem()).toBeUndefined();
    // It cannot listen to the lock channel: no news (nothing remembered), and that is told once.
    expect(await until(() => channel.length > 0, 10_000)).toBe(true);
    expect(channel).toEqual([expect.stringContaining('NOPERM')]);
    expect(s.lockout.lockNews!()).toBeUndefined();
  });

  test('a listening connection gone silent (half-open TCP) is heard no more: the right password gets 429 like a guess', async () => {
    const prefix = `half${++prefixes}:`;
    const proxy = await silencingProxy();
    const here = store(prefix, { url: proxy.url });
    const there = store(prefix);
    expect(await until(() => here.lockout.lockNews?.() !== undefined, 10_000)).toBe(true);
    expect(await until(() => there.lockout.lockNews?.() !== undefined, 10_000)).toBe(true);
    const lockout = new Lockout({ store: here.lockout, shared: true, policy: () => POLICY });
    const ip = '10.9.0.1';
    const right = { account: 'alice', password: new Secret('right'), ip, cached: () => true };
    await withLockout(lockout, right, ok);
    // The flow of the subscriber connection (the one that sent SUBSCRIBE) is dropped silently.
    proxy.silence((c) => /subscribe/i.test((c as Socket & { seen?: string }).seen ?? ''));
    // Unheard for longer than the heartbeat allows: no news (and it reconnects).
    expect(await until(() => here.lockout.lockNews!() === undefined, 3_000)).toBe(true);
    // A guesser behind the same address locks the pair through another replica.
    const other = new Lockout({ store: there.lockout, shared: true, policy: () => POLICY });
    for (let i = 0; i < POLICY.max_failures; i++)
      await expect(
        withLockout(other, { account: 'alice', password: new Secret(`x${i}`), ip }, refuse),
      ).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 500));
    // The pair is locked: a guess through `here` gets 429 ...
    await expect(
      withLockout(lockout, { account: 'alice', password: new Secret('guess'), ip }, refuse),
    ).rejects.toBeInstanceOf(TooManyRequestsError);
    // ... and so must the right password: a replica that cannot hear Redis remembers nothing.
    await expect(withLockout(lockout, right, ok)).rejects.toBeInstanceOf(TooManyRequestsError);
    // It reconnected by itself, and listens again.
    expect(await until(() => here.lockout.lockNews!() !== undefined, 10_000)).toBe(true);
  });

  test('a SUBSCRIBE answered later than timeout_ms, once: the store listens all the same soon after', async () => {
    const prefix = `slow${++prefixes}:`;
    const proxy = await silencingProxy({ delaySubscribeReplyMs: 1_000 });
    const s = store(prefix, { url: proxy.url });
    await s.ping();
    // Redis answered the SUBSCRIBE 1 s late, once; it answers promptly ever after.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(s.lockout.lockNews!()).toBeDefined();
  });

  test('the account cap with remember_success under 5 s: the right password gets 429 like a guess, as with the memory store', async () => {
    const policy: LockoutPolicy = {
      ...POLICY,
      max_failures: 100,
      account_max_failures: 3,
      remember_success: 1,
    };
    const prefix = `cap${++prefixes}:`;
    const here = store(prefix);
    expect(await until(() => here.lockout.lockNews?.() !== undefined, 10_000)).toBe(true);
    const lockout = new Lockout({ store: here.lockout, shared: true, policy: () => policy });
    const ip = '10.8.0.1';
    const right = { account: 'alice', password: new Secret('right'), ip, cached: () => true };
    await withLockout(lockout, right, ok);
    // The pair's exemption from the account cap (remember_success) ends; the 5-s memory does not.
    await new Promise((r) => setTimeout(r, 1_300));
    // Guesses from elsewhere put the account past account_max_failures.
    for (let i = 0; i < policy.account_max_failures; i++)
      await expect(
        withLockout(lockout, { account: 'alice', password: new Secret(`x${i}`), ip: `10.8.1.${i}` }, refuse),
      ).rejects.toThrow();
    // From the user's address, a guess gets 429 (as with the memory store) ...
    await expect(
      withLockout(lockout, { account: 'alice', password: new Secret('guess'), ip }, refuse),
    ).rejects.toBeInstanceOf(TooManyRequestsError);
    // ... and the right password too (as with the memory store).
    await expect(withLockout(lockout, right, ok)).rejects.toBeInstanceOf(TooManyRequestsError);
  });

  test('the memory store answers the same sequence with 429 for the right password', async () => {
    const policy: LockoutPolicy = {
      ...POLICY,
      max_failures: 100,
      account_max_failures: 3,
      remember_success: 1,
    };
    const lockout = new Lockout({ policy: () => policy });
    const ip = '10.8.0.1';
    const right = { account: 'alice', password: new Secret('right'), ip, cached: () => true };
    await withLockout(lockout, right, ok);
    await new Promise((r) => setTimeout(r, 1_300));
    for (let i = 0; i < policy.account_max_failures; i++)
      await expect(
        withLockout(lockout, { account: 'alice', password: new Secret(`x${i}`), ip: `10.8.1.${i}` }, refuse),
      ).rejects.toThrow();
    await expect(withLockout(lockout, right, ok)).rejects.toBeInstanceOf(TooManyRequestsError);
  });
});
