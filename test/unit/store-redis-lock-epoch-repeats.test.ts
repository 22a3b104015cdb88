/**
 * Found by a review of d57472b (the lock epoch): the epoch was a counter with no time to live, and
 * a replica heard a lock only when the value differed from its last reading. With the key lost
 * (an allkeys-* eviction, a FLUSHDB or DEL) and a lock before the next reading, the counter
 * restarted at the value last read, and with PUBLISH refused (the case the epoch exists for) the
 * lock went unheard: the right password got a token from a locked pair. Each lock now writes a
 * value that never repeats.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { TooManyRequestsError, UnauthorizedError } from '../../src/core/errors.js';
import { Lockout, withLockout } from '../../src/guard/lockout.js';
import type { RedisStore } from '../../src/store/redis.js';
import { REDIS_LOCK_POLICY as POLICY, useRedisPeer } from '../helpers/redis-store.js';
import { sleep, until } from '../helpers/wait.js';

const { redis, open } = useRedisPeer({ tmpPrefix: 'regauth-store-epoch-', password: 'admin-pw' });
let admin: Redis;

beforeAll(() => {
  admin = new Redis(redis.port, '127.0.0.1', { password: 'admin-pw' });
});
afterAll(() => admin?.disconnect());

function replica(prefix: string): RedisStore {
  return open({ keyPrefix: prefix, username: 'nopub', password: { reveal: () => 'nopub-pw' } });
}

const ok = async () => ({ account: 'alice' });
const refuse = async (): Promise<never> => {
  throw new UnauthorizedError('bad password');
};

test('epoch key lost, then a lock before the next reading: the lock is heard all the same', async () => {
  const prefix = `epoch${Date.now()}:`;
  await redis.cli(
    'ACL',
    'SETUSER',
    'nopub',
    'on',
    '>nopub-pw',
    `~${prefix}*`,
    `&${prefix}lockout:locks`,
    '+@all',
    '-publish',
  );
  const here = replica(prefix);
  const there = replica(prefix);
  expect(await until(() => here.lockout.lockNews?.() !== undefined, 10_000)).toBe(true);
  const lockout = new Lockout({ store: here.lockout, shared: true, policy: () => POLICY });
  const other = new Lockout({ store: there.lockout, shared: true, policy: () => POLICY });

  // An earlier lock of another pair sets the epoch, and `here` reads it.
  for (let i = 0; i < POLICY.max_failures; i++)
    await expect(
      withLockout(other, { account: 'bob', password: new Secret(`b${i}`), ip: '10.88.0.9' }, refuse),
    ).rejects.toThrow();
  expect(await admin.get(`${prefix}lockout:epoch`)).not.toBeNull();
  await sleep(1_200);

  const ip = '10.88.0.1';
  const right = { account: 'alice', password: new Secret('right'), ip, cached: () => true };
  await withLockout(lockout, right, ok); // remembered for 5 s on `here`
  for (let i = 0; i < POLICY.max_failures - 1; i++)
    await expect(
      withLockout(other, { account: 'alice', password: new Secret(`x${i}`), ip }, refuse),
    ).rejects.toThrow();
  // The epoch key is lost (as an allkeys-* eviction or a FLUSHDB would), and the guess that
  // locks the pair follows within milliseconds (a counter started again at the value `here` read).
  await admin.del(`${prefix}lockout:epoch`);
  await expect(
    withLockout(other, { account: 'alice', password: new Secret('x9'), ip }, refuse),
  ).rejects.toThrow();
  expect(await admin.get(`${prefix}lockout:epoch`)).not.toBeNull();
  expect(await there.lockout.blocked(`5:alice${ip}`, 'alice', POLICY, Date.now())).toBeGreaterThan(0);

  // Well past the documented 1.5 s; `here` still has news (its channel and readings answer).
  await sleep(2_000);
  expect(here.lockout.lockNews!()).toBeDefined();
  const outcome = await withLockout(lockout, right, ok).then(
    () => 'token issued (200)',
    (e: unknown) => e,
  );
  expect(outcome).toBeInstanceOf(TooManyRequestsError);
});
