import { describe, expect, test } from 'vitest';
import { Lockout, withLockout, type LockoutPolicy } from '../../src/guard/lockout.js';
import { TooManyRequestsError, UnauthorizedError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { MemoryLockoutStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type LockoutStore } from '../../src/store/types.js';

const POLICY: LockoutPolicy = {
  enabled: true,
  max_failures: 3,
  backoff: 60,
  max_backoff: 300,
  forget_after: 600,
  ipv6_prefix: 64,
  account_max_failures: 10_000,
  remember_success: 86_400,
};

/**
 * A store that counts its calls, fails every call while `down` (a shared store's outage), and
 * tells its news of locks from `news` (undefined: not listening).
 */
function countingStore() {
  const inner = new MemoryLockoutStore(100);
  const state: { calls: number; down: boolean; news: number | undefined } = {
    calls: 0,
    down: false,
    news: 0,
  };
  const wrap =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    (...a: A): Promise<R> => {
      state.calls++;
      return state.down ? Promise.reject(new StoreUnavailableError('down')) : f(...a);
    };
  const store: LockoutStore = {
    size: undefined,
    blocked: wrap(inner.blocked.bind(inner)),
    reserve: wrap(inner.reserve.bind(inner)),
    release: wrap(inner.release.bind(inner)),
    failure: wrap(inner.failure.bind(inner)),
    success: wrap(inner.success.bind(inner)),
    lockNews: () => state.news,
  };
  return { store, state };
}

const ok = () => Promise.resolve({ account: 'alice' });
const refuse = () => Promise.reject(new UnauthorizedError());

describe('a shared store', () => {
  test('a cached login that passed moments ago from the same pair with the same password costs no store call', async () => {
    const { store, state } = countingStore();
    const lockout = new Lockout({ store, shared: true, policy: () => POLICY });
    const attempt = { account: 'alice', password: new Secret('right'), ip: '10.0.0.1', cached: () => true };
    await withLockout(lockout, attempt, ok);
    const first = state.calls;
    expect(first).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) await withLockout(lockout, attempt, ok);
    expect(state.calls).toBe(first);
    // Another client, or another password the cache holds, asks the store.
    await withLockout(lockout, { ...attempt, ip: '10.0.0.2' }, ok);
    expect(state.calls).toBeGreaterThan(first);
    const second = state.calls;
    await withLockout(lockout, { ...attempt, password: new Secret('other') }, ok);
    expect(state.calls).toBeGreaterThan(second);
  });

  test('the memory of passed logins is per account and per password', async () => {
    const { store, state } = countingStore();
    const lockout = new Lockout({ store, shared: true, policy: () => POLICY });
    const password = `pw-${Math.random()}`;
    const attempt = { account: 'alice', password: new Secret(password), ip: '10.0.0.1', cached: () => true };
    await withLockout(lockout, attempt, ok);
    const first = state.calls;
    await withLockout(lockout, { ...attempt, account: 'bob' }, () => Promise.resolve({ account: 'bob' }));
    expect(state.calls).toBeGreaterThan(first);
    expect(lockout.passedRecently('alice', '10.0.0.1', new Secret(password))).toBe(true);
    expect(lockout.passedRecently('alice', '10.0.0.1', new Secret(`${password}x`))).toBe(false);
  });

  test('news of a lock anywhere ends the memory: the next cached login asks the store, and a locked pair gets 429', async () => {
    const { store, state } = countingStore();
    const lockout = new Lockout({ store, shared: true, policy: () => POLICY });
    const right = { account: 'alice', password: new Secret('right'), ip: '10.0.2.1', cached: () => true };
    await withLockout(lockout, right, ok);
    expect(lockout.passedRecently('alice', '10.0.2.1', right.password)).toBe(true);
    // Another replica locks the pair (a guesser behind the same address): the store tells a lock.
    const guess = { account: 'alice', password: new Secret('x'), ip: '10.0.2.1' };
    state.news = -1; // the guesses below are not this replica's news; only the store's number counts
    for (let i = 0; i < 3; i++) await expect(withLockout(lockout, guess, refuse)).rejects.toThrow();
    state.news = 1;
    expect(lockout.passedRecently('alice', '10.0.2.1', right.password)).toBe(false);
    const calls = state.calls;
    await expect(withLockout(lockout, right, ok)).rejects.toBeInstanceOf(TooManyRequestsError);
    expect(state.calls).toBeGreaterThan(calls);
  });

  test('without news of locks (not listening) nothing is remembered: every cached login asks the store', async () => {
    const { store, state } = countingStore();
    state.news = undefined;
    const lockout = new Lockout({ store, shared: true, policy: () => POLICY });
    const right = { account: 'alice', password: new Secret('right'), ip: '10.0.3.1', cached: () => true };
    await withLockout(lockout, right, ok);
    const calls = state.calls;
    await withLockout(lockout, right, ok);
    expect(state.calls).toBeGreaterThan(calls);
    expect(lockout.passedRecently('alice', '10.0.3.1', right.password)).toBe(false);
    // Listening again: remembered from the next login on.
    state.news = 7;
    await withLockout(lockout, right, ok);
    expect(lockout.passedRecently('alice', '10.0.3.1', right.password)).toBe(true);
  });

  test('a lock told while the lock check runs is news: that login is not remembered', async () => {
    const { store, state } = countingStore();
    const lockout = new Lockout({
      store: { ...store, blocked: (...a) => ((state.news = 2), store.blocked(...a)) },
      shared: true,
      policy: () => POLICY,
    });
    const right = { account: 'alice', password: new Secret('right'), ip: '10.0.4.1', cached: () => true };
    await withLockout(lockout, right, ok);
    expect(lockout.passedRecently('alice', '10.0.4.1', right.password)).toBe(false);
  });

  test('a right guess the cache holds is not remembered before it passed the lock: a locked pair gets 429', async () => {
    const { store } = countingStore();
    const lockout = new Lockout({ store, shared: true, policy: () => POLICY });
    const guess = { account: 'alice', password: new Secret('x'), ip: '10.0.0.9' };
    for (let i = 0; i < 3; i++) await expect(withLockout(lockout, guess, refuse)).rejects.toThrow();
    const right = { ...guess, password: new Secret('right'), cached: () => true };
    for (let i = 0; i < 3; i++)
      await expect(withLockout(lockout, right, ok)).rejects.toBeInstanceOf(TooManyRequestsError);
  });

  test('the store down: fail_closed refuses a login to check (503), serves a cached one; fail_open checks it', async () => {
    const { store, state } = countingStore();
    let mode: 'fail_closed' | 'fail_open' = 'fail_closed';
    const lockout = new Lockout({ store, shared: true, policy: () => POLICY, onStoreError: () => mode });
    state.down = true;
    let ran = 0;
    const run = () => (ran++, ok());
    const attempt = { account: 'bob', password: new Secret('pw'), ip: '10.0.1.1' };
    await expect(withLockout(lockout, attempt, run)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(ran).toBe(0);
    // (Only a known client's login is a cached one: src/http/token.ts issueGuarded.)
    await expect(withLockout(lockout, { ...attempt, cached: () => true }, run)).resolves.toEqual({
      account: 'alice',
    });
    expect(ran).toBe(1);
    mode = 'fail_open';
    await expect(withLockout(lockout, attempt, run)).resolves.toEqual({ account: 'alice' });
    await expect(withLockout(lockout, attempt, refuse)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(ran).toBe(2);
  });
});
