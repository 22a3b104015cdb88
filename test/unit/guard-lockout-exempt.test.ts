import { expect, test } from 'vitest';
import { Lockout, withLockout } from '../../src/guard/lockout.js';
import { deniedAs, LOCKOUT_POLICY } from '../helpers/lockout.js';

const POLICY = { ...LOCKOUT_POLICY, account_max_failures: 10 };
import { TooManyRequestsError, UnauthorizedError } from '../../src/core/errors.js';

// docs/security.md: a client that logged in is exempt from the account-wide cap for
// remember_success, so others' guesses cannot lock a user out where they log in. The memory store
// kept those logins in one table of max_entries pairs, oldest out first: logins of other pairs
// (one account from many addresses) pushed the user's out, and the exemption with it. Found by a
// review.

/**
 * alice logs in from 10.0.0.1; then (`othersLogIn`) mallory logs in to his own account from 100
 * addresses, more than the store's 100 entries; then 10 wrong guesses for alice from fresh
 * addresses reach the account cap. What alice's next login from 10.0.0.1 gets, and a guess from
 * one more fresh address.
 */
async function afterGuesses(othersLogIn: boolean) {
  const clock = { now: 1_000_000 };
  const lockout = new Lockout({ maxEntries: 100, policy: () => POLICY, now: () => clock.now });
  const ok = (account: string) => () => Promise.resolve({ account });
  const wrong = deniedAs('alice', 0, 'users');
  await withLockout(lockout, { account: 'alice', password: 'right', ip: '10.0.0.1' }, ok('alice'));
  clock.now += 1000;
  if (othersLogIn) {
    for (let i = 0; i < 100; i++) {
      const ip = `10.1.${i >> 8}.${i & 255}`;
      await withLockout(lockout, { account: 'mallory', password: 'his', ip }, ok('mallory'));
    }
  }
  for (let i = 0; i < 10; i++) {
    await expect(
      withLockout(lockout, { account: 'alice', password: 'guess', ip: `10.2.0.${i}` }, wrong),
    ).rejects.toBeInstanceOf(UnauthorizedError);
  }
  clock.now += 1000;
  const fresh = await withLockout(lockout, { account: 'alice', password: 'g', ip: '10.2.1.1' }, wrong).catch(
    (e: unknown) => e,
  );
  const home = await withLockout(
    lockout,
    { account: 'alice', password: 'right', ip: '10.0.0.1' },
    ok('alice'),
  ).catch((e: unknown) => e);
  return { fresh, home };
}

test.each([
  ['alone', false],
  ['after others logged in from more addresses than the store holds', true],
])(
  '%s: alice logs in where she did; a fresh address is held back by the account cap',
  async (_what, othersLogIn) => {
    const { fresh, home } = await afterGuesses(othersLogIn);
    expect(fresh).toBeInstanceOf(TooManyRequestsError);
    expect(home).toEqual({ account: 'alice' });
  },
);
