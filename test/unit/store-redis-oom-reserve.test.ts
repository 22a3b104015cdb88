/**
 * Found by a review of the Redis store: a Redis past its `maxmemory` under `noeviction` (the policy
 * docs/deployment.md tells operators to keep) takes every reservation but refuses every failure
 * count after a window's first: under `on_store_error: fail_closed` each wrong password is
 * checked, answered 401 and forgotten, so one client (and many) guess without limit.
 *
 * The defect. Redis runs a script without a shebang (all of src/store/redis.ts's) under OOM, and
 * refuses only its first write that may grow memory ("denyoom") when no other write came before
 * it; once a script has written, it is never stopped for memory. RESERVE starts with
 * ZREMRANGEBYSCORE (a write, not denyoom), so its ZADD always passes: the reservation is taken,
 * and the password is checked. FAILURE reads the account's window first (HGET) and, while the
 * window is live, its first write is HINCRBY (denyoom): the whole script is refused with `OOM
 * command not allowed`, nothing is counted, and withLockout treats that as "a count that fails to
 * be written after a password was checked is lost; the answer stands". RELEASE (ZREM) passes, so
 * the slot is free at once for the next guess. The pair never reaches max_failures, the account
 * never reaches account_max_failures.
 *
 * What the docs promise. docs/deployment.md: "Keep maxmemory-policy at noeviction ... Under
 * noeviction a write refused for memory is a store error (below)", and below, under
 * `fail_closed`, "a login whose password must be checked is answered 503 ... so nobody can guess
 * passwords without limits during the outage"; docs/security.md "Brute-force protection: what the lockout guarantees" (Across replicas): "an outage
 * never opens unlimited guessing", and "At most max_failures passwords of one account are checked
 * for one client before that pair is locked". The same docs say a flood of failed logins for
 * made-up names (cheap with oidc_auth or jwt_auth) can fill Redis' memory: an attacker can bring
 * this state about, and then guess freely.
 *
 * Suggested fix: make RESERVE refused whenever FAILURE could be (do its denyoom write first:
 * count live reservations with ZCOUNT, ZADD, and only then ZREMRANGEBYSCORE the expired ones; or,
 * on Redis 7, give the scripts a `#!lua` shebang without `allow-oom`, so an OOM Redis refuses
 * them at start), and under fail_closed keep a reservation whose failure could not be counted
 * (do not release it: it then holds the slot for its lease) or answer such a login 503.
 */
import { afterEach, expect, test } from 'vitest';
import { UnauthorizedError } from '../../src/core/errors.js';
import { Lockout, withLockout } from '../../src/guard/lockout.js';
import { REDIS_LOCK_POLICY as POLICY, useRedisPeer } from '../helpers/redis-store.js';

const { redis, open } = useRedisPeer({ tmpPrefix: 'regauth-review-oom-' });

afterEach(async () => {
  await redis.cli('CONFIG', 'SET', 'maxmemory', '0');
});

test('a Redis out of memory under noeviction: fail_closed checks at most max_failures guesses of a pair', async () => {
  const failed: string[] = [];
  const store = open({ keyPrefix: `oom${Date.now()}:`, onError: (operation) => failed.push(operation) });
  await store.ping();
  const lockout = new Lockout({
    store: store.lockout,
    shared: true,
    policy: () => POLICY, // max_failures 3
    onStoreError: () => 'fail_closed',
  });
  // Redis' memory is full (a flood of failures for made-up names filled it) under the
  // recommended policy.
  await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  await redis.cli('CONFIG', 'SET', 'maxmemory', '1');

  let checked = 0;
  const answers: string[] = [];
  for (let i = 0; i < 20; i++) {
    const answer = await withLockout(
      lockout,
      { account: 'alice', password: `guess-${i}`, ip: '203.0.113.7' },
      async () => {
        checked++;
        throw new UnauthorizedError('wrong password');
      },
    ).then(
      () => 'token',
      (err: unknown) => (err as Error).constructor.name,
    );
    answers.push(answer);
  }
  // At most max_failures (3) passwords are checked; every other guess is refused unchecked
  // (429 once locked, or 503 while the store cannot take the counts).
  const counts: Record<string, number> = {};
  for (const a of answers) counts[a] = (counts[a] ?? 0) + 1;
  expect(
    checked,
    `answers ${JSON.stringify(counts)}; operations the store refused: ${failed.join(' ')}`,
  ).toBeLessThanOrEqual(POLICY.max_failures);
});
