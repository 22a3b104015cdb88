/**
 * Found by a review: the FAILURE script tells a lock on the lock channel with `redis.pcall`, and a
 * refused PUBLISH went unnoticed: the store only learnt of a channel it could not use from its own
 * SUBSCRIBE being refused. With PUBLISH refused (an ACL user without the command, or one replica's
 * user without the channel during a credential rollover), the other replicas kept hearing a
 * healthy channel and trusting their 5-second memory after a lock set through that replica: the
 * right password got tokens from a locked pair, past the documented 1.5 s.
 */
import { describe, expect, test } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { TooManyRequestsError, UnauthorizedError } from '../../src/core/errors.js';
import { Lockout, withLockout } from '../../src/guard/lockout.js';
import type { RedisStore } from '../../src/store/redis.js';
import { REDIS_LOCK_POLICY as POLICY, useRedisPeer } from '../helpers/redis-store.js';
import { until } from '../helpers/wait.js';

const { redis, open } = useRedisPeer({ tmpPrefix: 'regauth-review-pub-', password: 'admin-pw' });

function replica(prefix: string, username: string, password: string): RedisStore {
  const problems: (string | undefined)[] = [];
  return open({
    keyPrefix: prefix,
    username,
    password: { reveal: () => password },
    onLockChannel: (p) => problems.push(p),
  });
}

const ok = async () => ({ account: 'alice' });
const refuse = async (): Promise<never> => {
  throw new UnauthorizedError('bad password');
};

async function scenario(here: RedisStore, there: RedisStore, ip: string): Promise<unknown> {
  // `here` listens to the lock channel (its SUBSCRIBE was accepted, its PINGs are answered).
  expect(await until(() => here.lockout.lockNews?.() !== undefined, 10_000)).toBe(true);
  const lockout = new Lockout({ store: here.lockout, shared: true, policy: () => POLICY });
  const other = new Lockout({ store: there.lockout, shared: true, policy: () => POLICY });
  const right = { account: 'alice', password: new Secret('right'), ip, cached: () => true };
  // The user logs in through `here` (a docker push): remembered for 5 s.
  await withLockout(lockout, right, ok);
  // A guesser behind the same address (a NAT) locks the pair through `there`.
  for (let i = 0; i < POLICY.max_failures; i++)
    await expect(
      withLockout(other, { account: 'alice', password: new Secret(`x${i}`), ip }, refuse),
    ).rejects.toThrow();
  // The pair is locked in Redis for the service ...
  expect(await there.lockout.blocked(`5:alice${ip}`, 'alice', POLICY, Date.now())).toBeGreaterThan(0);
  // ... well past the documented 1.5 s in which a lock may go unheard.
  await new Promise((r) => setTimeout(r, 2_000));
  expect(here.lockout.lockNews!()).toBeDefined();
  // The right password through `here`, within its 5-second memory: must be 429 like every guess.
  return withLockout(lockout, right, ok).then(
    () => 'token issued (200)',
    (e: unknown) => e,
  );
}

describe('a lock whose PUBLISH Redis refuses is never heard by the other replicas', () => {
  test('one ACL user for every replica, allowed SUBSCRIBE and the channel but not the PUBLISH command', async () => {
    const prefix = `pubcmd${Date.now()}:`;
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
    const here = replica(prefix, 'nopub', 'nopub-pw');
    const there = replica(prefix, 'nopub', 'nopub-pw');
    const outcome = await scenario(here, there, '10.77.0.1');
    expect(outcome).toBeInstanceOf(TooManyRequestsError);
  });

  test('a replica whose ACL user lacks the channel (it logs so) locks pairs the well-configured replicas never hear of', async () => {
    const prefix = `mixed${Date.now()}:`;
    await redis.cli(
      'ACL',
      'SETUSER',
      'good',
      'on',
      '>good-pw',
      `~${prefix}*`,
      `&${prefix}lockout:locks`,
      '+@all',
    );
    // As docs/operations.md warns for Redis 7: a user made without `&<channel>`.
    await redis.cli('ACL', 'SETUSER', 'nochan', 'on', '>nochan-pw', `~${prefix}*`, '+@all');
    const here = replica(prefix, 'good', 'good-pw');
    const there = replica(prefix, 'nochan', 'nochan-pw');
    const outcome = await scenario(here, there, '10.77.0.2');
    expect(outcome).toBeInstanceOf(TooManyRequestsError);
  });
});
