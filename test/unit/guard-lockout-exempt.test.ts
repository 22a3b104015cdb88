import { expect, test } from 'vitest';
import { Lockout, withLockout, type LockoutPolicy } from '../../src/guard/lockout.js';
import { TooManyRequestsError, UnauthorizedError } from '../../src/core/errors.js';

const POLICY: LockoutPolicy = {
  enabled: true,
  max_failures: 3,
  backoff: 2,
  max_backoff: 30,
  forget_after: 600,
  ipv6_prefix: 64,
  account_max_failures: 10,
  remember_success: 86_400,
};

// docs/security.md: a client that logged in is exempt from the account-wide cap for
// remember_success, so others' guesses cannot lock a user out where they log in. The memory store
// kept those logins in one table of max_entries pairs, oldest out first: logins of other pairs
// (one account from many addresses) pushed the user's out, and the exemption with it. Found by a
// review.

test('logins of other pairs do not take away a client’s exemption from the account cap (remember_success)', async () => {
  const clock = { now: 1_000_000 };
  const lockout = new Lockout({ maxEntries: 100, policy: () => POLICY, now: () => clock.now });
  const ok = (account: string) => () => Promise.resolve({ account });
  const wrong = () =>
    Promise.reject(
      new UnauthorizedError(undefined, {
        authenticator: 'users',
        reason: 'wrong password',
        account: 'alice',
      }),
    );
  // alice logs in from her usual address.
  await withLockout(lockout, { account: 'alice', password: 'right', ip: '10.0.0.1' }, ok('alice'));
  clock.now += 1000;
  // Mallory logs in to his own account from 100 addresses (or: 100 other logins on a busy service).
  for (let i = 0; i < 100; i++) {
    await withLockout(
      lockout,
      { account: 'mallory', password: 'his', ip: `10.1.${i >> 8}.${i & 255}` },
      ok('mallory'),
    );
  }
  // Then guesses alice's password from fresh addresses until the account cap is reached.
  for (let i = 0; i < 10; i++) {
    await expect(
      withLockout(lockout, { account: 'alice', password: 'guess', ip: `10.2.0.${i}` }, wrong),
    ).rejects.toBeInstanceOf(UnauthorizedError);
  }
  clock.now += 1000;
  // A minute later, well within remember_success, alice logs in from where she always does.
  const attempt = withLockout(lockout, { account: 'alice', password: 'right', ip: '10.0.0.1' }, ok('alice'));
  await expect(attempt).resolves.toEqual({ account: 'alice' });
});

test('(control) without the other logins alice is exempt', async () => {
  const clock = { now: 1_000_000 };
  const lockout = new Lockout({ maxEntries: 100, policy: () => POLICY, now: () => clock.now });
  const ok = (account: string) => () => Promise.resolve({ account });
  const wrong = () =>
    Promise.reject(
      new UnauthorizedError(undefined, {
        authenticator: 'users',
        reason: 'wrong password',
        account: 'alice',
      }),
    );
  await withLockout(lockout, { account: 'alice', password: 'right', ip: '10.0.0.1' }, ok('alice'));
  for (let i = 0; i < 10; i++) {
    await expect(
      withLockout(lockout, { account: 'alice', password: 'g', ip: `10.2.0.${i}` }, wrong),
    ).rejects.toThrow();
  }
  await expect(
    withLockout(lockout, { account: 'alice', password: 'g', ip: '10.2.1.1' }, wrong),
  ).rejects.toBeInstanceOf(TooManyRequestsError);
  await expect(
    withLockout(lockout, { account: 'alice', password: 'right', ip: '10.0.0.1' }, ok('alice')),
  ).resolves.toEqual({ account: 'alice' });
});
