/**
 * Found by a review of the lockout. The memory store remembers which clients logged in to each
 * account (their exemption from `account_max_failures`), in one table of `max_entries` logins, an
 * account counting as many as it holds (up to 64). The account's map was set again after each
 * change, but lru-cache measures an entry only when its value is another object: every account
 * counted 1 whatever it held, so the table held `max_entries` accounts of up to 64 logins each,
 * 64 times the memory `lockout.max_entries` says.
 */
import { expect, test } from 'vitest';
import { MemoryLockoutStore } from '../../src/store/memory.js';
import { LOCKOUT_POLICY } from '../helpers/lockout.js';

const policy = { ...LOCKOUT_POLICY, account_max_failures: 2 };

test('an account’s logins from 64 clients count as 64 of max_entries', async () => {
  const store = new MemoryLockoutStore(100);
  const now = Date.now();
  for (let i = 0; i < 64; i++) await store.success(`a|10.0.0.${i}`, 'a', policy, now);
  // Another 64 logins: 128 of 100, so the least recently used account's go.
  for (let i = 0; i < 64; i++) await store.success(`b|10.0.1.${i}`, 'b', policy, now);
  // Past a's account cap (failures from elsewhere), a client whose login is forgotten waits.
  for (let i = 0; i < 2; i++) await store.failure(`a|192.0.2.${i}`, 'a', policy, now);
  expect(store.blockedNow('a|10.0.0.0', 'a', policy, now)).toBeGreaterThan(0);
  // b's logins, the latest, are all remembered.
  for (let i = 0; i < 2; i++) await store.failure(`b|192.0.2.${i}`, 'b', policy, now);
  expect(store.blockedNow('b|10.0.1.0', 'b', policy, now)).toBe(0);
});

test('within max_entries logins in all, every account keeps its own (latest 64)', async () => {
  const store = new MemoryLockoutStore(100);
  const now = Date.now();
  for (let i = 0; i < 40; i++) await store.success(`a|10.0.0.${i}`, 'a', policy, now);
  for (let i = 0; i < 40; i++) await store.success(`b|10.0.1.${i}`, 'b', policy, now);
  for (let i = 0; i < 2; i++) await store.failure(`a|192.0.2.${i}`, 'a', policy, now);
  expect(store.blockedNow('a|10.0.0.0', 'a', policy, now)).toBe(0);
  expect(store.blockedNow('a|192.0.2.9', 'a', policy, now)).toBeGreaterThan(0);
});
