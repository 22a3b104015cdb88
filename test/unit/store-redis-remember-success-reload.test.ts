/**
 * Found by a review of the Redis store: a reload that shortens `lockout.remember_success` does
 * not shorten the account-cap exemptions Redis holds already; they last the old duration (30
 * days by default), where the memory store applies the new one at once.
 *
 * The defect. SUCCESS (src/store/redis.ts) records a pair's login as a key
 * `<prefix>lockout:success:<pair>` that lives `remember_success` as it was at the login (`SET ...
 * PX`), and BLOCKED and RESERVE exempt the pair from `account_max_failures` while that key
 * exists: the policy passed to them is never compared with the login's time. The memory store
 * keeps the login's time and compares it with the `remember_success` of each call
 * (MemoryLockoutStore #exempt). So an operator who lowers remember_success during a guessing
 * attack on an account (a remembered address is a shared NAT, a VPN exit, an address since
 * handed to someone else) still has every address that logged in within the last 30 days let
 * through the account cap, on every replica, for up to 30 days. (`forget_after` has the same
 * root: a pair's count lives the old forget_after in Redis, the new one in memory.)
 *
 * What the docs promise. docs/operations.md: "Every key but `max_entries` applies on reload; the
 * counts themselves outlive reloads", and "`log.level`, `store.on_store_error` and the rest of
 * `lockout` apply on reload"; src/guard/lockout.ts: "the policy is read per call, so a reloaded
 * `lockout:` applies at once, except `max_entries`". docs/security.md: clients "that logged in to
 * it within `remember_success`" are exempt.
 *
 * Suggested fix: store the login's time as the success key's value and exempt the pair in
 * BLOCKED and RESERVE only while `now - t < remember_success * 1000` of the call's policy (keep
 * the PX as an upper bound, e.g. the longest remember_success allowed, or refresh it on login);
 * likewise keep the pair's last failure time and compare it with the call's forget_after.
 */
import { expect, test } from 'vitest';
import { Lockout, type LockoutPolicy } from '../../src/guard/lockout.js';
import { MemoryLockoutStore } from '../../src/store/memory.js';
import type { LockoutStore } from '../../src/store/types.js';
import { useRedisPeer } from '../helpers/redis-store.js';

const { open } = useRedisPeer({ tmpPrefix: 'regauth-review-remember-' });

const OWNER = '198.51.100.7';

/**
 * The owner logs in; others' guesses fill the account cap; the operator reloads remember_success
 * down to 1 s; 1.5 s later: how long the owner's address is held back (0: still exempt).
 */
async function afterReload(store: LockoutStore, shared: boolean): Promise<number> {
  let policy: LockoutPolicy = {
    enabled: true,
    max_failures: 5,
    backoff: 60,
    max_backoff: 300,
    forget_after: 900,
    ipv6_prefix: 64,
    account_max_failures: 2,
    remember_success: 86_400,
  };
  const lockout = new Lockout({ store, shared, policy: () => policy });
  expect(await lockout.success('alice', OWNER)).toBe(0);
  await lockout.failure('alice', '203.0.113.1');
  await lockout.failure('alice', '203.0.113.2');
  // Exempt while remember_success is a day.
  expect(await lockout.blocked('alice', OWNER)).toBe(0);
  policy = { ...policy, remember_success: 1 };
  await new Promise((r) => setTimeout(r, 1_500));
  return lockout.blocked('alice', OWNER);
}

test('a reload that shortens remember_success ends older exemptions, with Redis as in memory', async () => {
  const memory = await afterReload(new MemoryLockoutStore(1_000), false);
  const redis = await afterReload(open({ keyPrefix: `remember${Date.now()}:` }).lockout, true);
  // The memory store holds the address back until the account's window ends (about 900 s).
  expect(memory).toBeGreaterThan(0);
  // Redis lets it through the account cap as if the old day still applied.
  expect(redis, `held back ${redis} s with Redis, ${memory} s in memory`).toBeGreaterThan(0);
});
