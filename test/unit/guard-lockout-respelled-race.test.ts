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
  account_max_failures: 10_000,
  remember_success: 86_400,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A directory that holds alice@example.org as alice: guesses under both spellings in flight at
// once each had their own budget, as a slot is reserved for the spelling typed and the stored
// account is known only once the password was checked. Found by a review.

test('concurrent guesses under two spellings of one stored account get at most max_failures passwords answered', async () => {
  const lockout = new Lockout({ maxEntries: 100, policy: () => POLICY });
  const ip = '10.0.0.1';
  // The backend (a directory) holds alice@example.org as alice; a wrong password is denied as alice.
  const wrong = (delay: number) => async () => {
    await sleep(delay);
    throw new UnauthorizedError(undefined, {
      authenticator: 'ldap_auth',
      reason: 'invalid credentials',
      account: 'alice',
    });
  };
  const attempts = [
    ...[1, 2, 3].map(() =>
      withLockout(lockout, { account: 'alice@example.org', password: 'x', ip }, wrong(5)),
    ),
    ...[1, 2, 3].map(() => withLockout(lockout, { account: 'alice', password: 'x', ip }, wrong(20))),
  ];
  const settled = await Promise.allSettled(attempts);
  const answered = settled.filter(
    (s) => s.status === 'rejected' && s.reason instanceof UnauthorizedError,
  ).length;
  const locked = settled.filter(
    (s) => s.status === 'rejected' && s.reason instanceof TooManyRequestsError,
  ).length;
  // alice's pair locks at its 3rd failure: no more than 3 passwords may be told apart (401) from 10.0.0.1.
  expect({ answered, locked }).toEqual({ answered: 3, locked: 3 });
});

test('a right password of the stored account is let in after the pair was locked by concurrent respelled guesses', async () => {
  const lockout = new Lockout({ maxEntries: 100, policy: () => POLICY });
  const ip = '10.0.0.1';
  const wrong = async () => {
    await sleep(5);
    throw new UnauthorizedError(undefined, {
      authenticator: 'ldap_auth',
      reason: 'invalid credentials',
      account: 'alice',
    });
  };
  const guesses = [1, 2, 3].map(() =>
    withLockout(lockout, { account: 'alice@example.org', password: 'x', ip }, wrong),
  );
  // A 4th guess, typed as alice, with the right password, in flight at the same time.
  const right = withLockout(lockout, { account: 'alice', password: 'right', ip }, async () => {
    await sleep(20);
    return { account: 'alice' };
  });
  await Promise.allSettled(guesses);
  // By now alice is locked from 10.0.0.1 (3 failures) ...
  await expect(lockout.check('alice', ip)).rejects.toBeInstanceOf(TooManyRequestsError);
  // ... yet the 4th guess is answered with a login.
  await expect(right).rejects.toBeInstanceOf(TooManyRequestsError);
});

test('concurrent guesses from many addresses under two spellings get at most account_max_failures passwords answered', async () => {
  const lockout = new Lockout({ maxEntries: 100, policy: () => ({ ...POLICY, account_max_failures: 5 }) });
  const wrong = (delay: number) => async () => {
    await sleep(delay);
    throw new UnauthorizedError(undefined, {
      authenticator: 'ldap_auth',
      reason: 'invalid credentials',
      account: 'alice',
    });
  };
  const attempts = [
    ...[0, 1, 2, 3, 4].map((i) =>
      withLockout(lockout, { account: 'alice@example.org', password: 'x', ip: `10.1.0.${i}` }, wrong(5)),
    ),
    ...[0, 1, 2, 3, 4].map((i) =>
      withLockout(lockout, { account: 'alice', password: 'x', ip: `10.2.0.${i}` }, wrong(20)),
    ),
  ];
  const settled = await Promise.allSettled(attempts);
  const answered = settled.filter(
    (s) => s.status === 'rejected' && s.reason instanceof UnauthorizedError,
  ).length;
  expect(answered).toBeLessThanOrEqual(5);
});
