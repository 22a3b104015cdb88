/**
 * Found by a review of the Redis store: docs/deployment.md "When Redis cannot answer" says a
 * Redis that is down, paused or slow costs a request at most store.timeout_ms. A login whose
 * reservation Redis answered, and which then met a paused Redis after its password check, waited
 * for the lock read to time out and then, in withLockout's `finally`, for the release to time
 * out too: twice timeout_ms, under fail_closed and fail_open alike. Once the store has failed an
 * attempt, its release is sent without being waited for.
 */
import { describe, expect, test } from 'vitest';
import { Lockout, withLockout } from '../../src/guard/lockout.js';
import { MemoryLockoutStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type LockoutStore } from '../../src/store/types.js';
import { UnauthorizedError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { REDIS_LOCK_POLICY as POLICY, useRedisPeer } from '../helpers/redis-store.js';
import { until } from '../helpers/wait.js';

const { redis, open } = useRedisPeer({ tmpPrefix: 'regauth-review-store-cost-' });
const TIMEOUT_MS = 1_000;
let n = 0;

describe('a Redis paused while a login’s password is checked', () => {
  for (const policy of ['fail_closed', 'fail_open'] as const) {
    test(`${policy}: the login is answered within about timeout_ms of the pause, not twice that`, async () => {
      const s = open({ keyPrefix: `cost${++n}:`, timeoutMs: TIMEOUT_MS });
      expect(await until(() => s.problem() === undefined, 5_000)).toBe(true);
      await s.ping();
      const lockout = new Lockout({
        store: s.lockout,
        shared: true,
        policy: () => POLICY,
        onStoreError: () => policy,
      });
      let checked = 0;
      const started = withLockout(
        lockout,
        { account: 'alice', password: new Secret(`wrong${n}`), ip: '10.9.0.1' },
        async () => {
          // The reservation was made; Redis stops answering while the password is checked.
          redis.pause();
          checked = performance.now();
          throw new UnauthorizedError('bad password');
        },
      );
      let answeredAfter = 0;
      try {
        await started.then(
          () => undefined,
          (err: unknown) => {
            answeredAfter = performance.now() - checked;
            // fail_closed: 503 for the store; fail_open: the refusal stands.
            expect(err).toBeInstanceOf(policy === 'fail_closed' ? StoreUnavailableError : UnauthorizedError);
          },
        );
      } finally {
        redis.resume();
      }
      expect(checked).toBeGreaterThan(0);
      // One timeout_ms, with room for a busy machine; two (the failing behaviour) is over the line.
      expect(Math.round(answeredAfter)).toBeLessThan(TIMEOUT_MS * 1.9);
    }, 30_000);
  }
});

/**
 * The same, counted rather than timed: a shared store whose release never answers. Once one of
 * the attempt's steps has found the store unable to answer (the lock read, or the count of its
 * failure), the attempt is answered without waiting for the release.
 */
describe('a login the store stopped answering does not wait for its release', () => {
  const cases = [
    { name: 'the lock read after the check', failing: 'blocked' },
    { name: 'the count of the failure', failing: 'failure' },
  ] as const;
  for (const { name, failing } of cases) {
    test(`${name} unanswered: the refusal comes without the release`, async () => {
      const inner = new MemoryLockoutStore(100);
      let released = 0;
      const unanswered = () => Promise.reject(new StoreUnavailableError('no answer within 500 ms'));
      const store: LockoutStore = {
        size: undefined,
        blocked: failing === 'blocked' ? unanswered : inner.blocked.bind(inner),
        reserve: inner.reserve.bind(inner),
        release: () => {
          released++;
          return new Promise<void>(() => undefined);
        },
        failure: failing === 'failure' ? unanswered : inner.failure.bind(inner),
        success: inner.success.bind(inner),
        lockNews: () => undefined,
      };
      const lockout = new Lockout({
        store,
        shared: true,
        policy: () => POLICY,
        onStoreError: () => 'fail_open',
      });
      const answered = await Promise.race([
        withLockout(lockout, { account: 'alice', password: new Secret('guess'), ip: '10.9.0.2' }, () =>
          Promise.reject(new UnauthorizedError('bad password')),
        ).catch((err: unknown) => err),
        new Promise((r) => setTimeout(() => r('still waiting'), 2_000)),
      ]);
      expect(answered).toBeInstanceOf(UnauthorizedError);
      // Sent all the same: a reservation the store takes back frees its check slot at once.
      expect(released).toBe(1);
    });
  }
});
