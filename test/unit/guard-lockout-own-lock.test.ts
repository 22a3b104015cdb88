import { expect, test } from 'vitest';
import { Lockout, withLockout } from '../../src/guard/lockout.js';
import { TooManyRequestsError, UnauthorizedError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { MemoryLockoutStore } from '../../src/store/memory.js';
import type { LockoutStore } from '../../src/store/types.js';
import { LOCKOUT_POLICY as POLICY } from '../helpers/lockout.js';

// Found by a review. A shared store whose lock channel has not yet delivered the message of a lock this very replica
// just set (Redis answers the FAILURE script on one connection and publishes on another; which
// arrives first is not ordered). The replica was told by the failure's own answer that the pair
// is locked; a cached login it remembers must not be served 200 after that answer.
test('a remembered login after this replica itself locked the pair gets 429', async () => {
  const inner = new MemoryLockoutStore(100);
  const store: LockoutStore = {
    size: undefined,
    blocked: inner.blocked.bind(inner),
    reserve: inner.reserve.bind(inner),
    release: inner.release.bind(inner),
    failure: inner.failure.bind(inner),
    success: inner.success.bind(inner),
    lockNews: () => 0, // the lock's message is still on its way
  };
  const lockout = new Lockout({ store, shared: true, policy: () => POLICY });
  const ip = '10.4.0.1';
  const login = { account: 'alice', password: new Secret('right'), ip, cached: () => true };
  const ok = () => Promise.resolve({ account: 'alice' });
  await withLockout(lockout, login, ok);
  let locked = false;
  for (let i = 0; i < POLICY.max_failures; i++) {
    await withLockout(
      lockout,
      { account: 'alice', password: new Secret('wrong'), ip },
      () => Promise.reject(new UnauthorizedError('bad password')),
      () => (locked = true),
    ).catch(() => undefined);
  }
  expect(locked).toBe(true);
  expect(await lockout.blocked('alice', ip)).toBeGreaterThan(0);
  const answer = await withLockout(lockout, login, ok).then(
    () => 200,
    (err: unknown) => (err instanceof TooManyRequestsError ? 429 : String(err)),
  );
  expect(answer).toBe(429);
});
