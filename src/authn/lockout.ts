import { LRUCache } from 'lru-cache';
import type { LockoutConfig } from '../config/ops.js';
import { RegauthError, TooManyRequestsError } from '../errors.js';

/** The `lockout:` policy, in seconds. */
export type LockoutPolicy = Pick<
  LockoutConfig,
  'enabled' | 'max_failures' | 'backoff' | 'max_backoff' | 'forget_after'
>;

interface Entry {
  failures: number;
  /** Unix milliseconds until which attempts are refused (0: not locked). */
  lockedUntil: number;
  /** Unix milliseconds of the last failure. */
  lastFailure: number;
}

/**
 * Brute-force protection that cannot be turned against users: failures are counted per
 * (account, client address), so an attacker elsewhere cannot slow the account's owner down.
 * After `max_failures` failures each further failure locks the pair for `backoff · 2^k`
 * seconds (capped at `max_backoff`); a success forgets the pair; so does `forget_after`
 * seconds without a failure. Memory is bounded: the least recently used pairs are dropped.
 *
 * The state outlives config reloads (it belongs to the process); the policy is read per call,
 * so a reloaded `lockout:` applies at once, except `max_entries`, which is fixed at start.
 */
export class Lockout {
  readonly #entries: LRUCache<string, Entry>;
  readonly #policy: () => LockoutPolicy;
  readonly #now: () => number;

  constructor(options: { maxEntries: number; policy: () => LockoutPolicy; now?: () => number }) {
    this.#policy = options.policy;
    this.#now = options.now ?? Date.now;
    this.#entries = new LRUCache({ max: options.maxEntries });
  }

  /** Throws TooManyRequestsError (with the seconds to wait) while the pair is locked. */
  check(account: string, ip: string | null): void {
    const policy = this.#policy();
    if (!policy.enabled) return;
    const entry = this.#live(key(account, ip), policy);
    const wait = entry ? entry.lockedUntil - this.#now() : 0;
    if (wait > 0) throw new TooManyRequestsError(Math.ceil(wait / 1000));
  }

  /** Counts a failed attempt; returns true when it locked the pair (for the lockout metric). */
  failure(account: string, ip: string | null): boolean {
    const policy = this.#policy();
    if (!policy.enabled) return false;
    const k = key(account, ip);
    const entry = this.#live(k, policy) ?? { failures: 0, lockedUntil: 0, lastFailure: 0 };
    entry.failures += 1;
    entry.lastFailure = this.#now();
    const over = entry.failures - policy.max_failures;
    if (over >= 0) {
      // 2^over grows fast; cap the exponent so the arithmetic stays finite.
      const seconds = Math.min(policy.max_backoff, policy.backoff * 2 ** Math.min(over, 40));
      entry.lockedUntil = this.#now() + seconds * 1000;
    }
    // The entry lives while it is locked, and forget_after seconds after the last failure.
    const ttl = Math.max(policy.forget_after * 1000, entry.lockedUntil - this.#now());
    this.#entries.set(k, entry, { ttl });
    return over >= 0;
  }

  /** A successful login forgets the pair's failures. */
  success(account: string, ip: string | null): void {
    this.#entries.delete(key(account, ip));
  }

  /** How many pairs are remembered (for tests and the memory bound). */
  get size(): number {
    return this.#entries.size;
  }

  /** The pair's entry, unless it was forgotten (forget_after seconds since the last failure, and unlocked). */
  #live(k: string, policy: LockoutPolicy): Entry | undefined {
    const entry = this.#entries.get(k);
    if (!entry) return undefined;
    // The cache's own TTL frees memory; this check applies the policy with the injected clock.
    const now = this.#now();
    if (now >= entry.lockedUntil && now - entry.lastFailure >= policy.forget_after * 1000) {
      this.#entries.delete(k);
      return undefined;
    }
    return entry;
  }
}

function key(account: string, ip: string | null): string {
  // The length prefix keeps "a" + "b:c" apart from "a:b" + "c".
  return `${account.length}:${account}${ip ?? ''}`;
}

/**
 * Runs a password attempt under the lockout: refused with 429 while the (account, address)
 * pair is locked; a refused password counts as a failure, a success forgets the pair.
 * Requests without a password (anonymous, refresh tokens) are not password guesses: they pass.
 */
export async function withLockout<T>(
  lockout: Lockout | undefined,
  attempt: { readonly account: string; readonly password: unknown; readonly ip: string | null },
  run: () => Promise<T>,
  onLocked?: () => void,
): Promise<T> {
  if (!lockout || attempt.password === undefined) return run();
  lockout.check(attempt.account, attempt.ip);
  try {
    const result = await run();
    lockout.success(attempt.account, attempt.ip);
    return result;
  } catch (err) {
    if (
      err instanceof RegauthError &&
      (err.code === 'ERR_UNAUTHORIZED' || err.code === 'ERR_INVALID_GRANT')
    ) {
      if (lockout.failure(attempt.account, attempt.ip)) onLocked?.();
    }
    throw err;
  }
}
