import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import {
  lockSeconds,
  type LimitPolicy,
  type LockoutStore,
  type Reservation,
  type ReserveOutcome,
  type Store,
  StoreUnavailableError,
} from './types.js';

interface Entry {
  failures: number;
  /** Unix milliseconds until which attempts are refused (0: not locked). */
  lockedUntil: number;
  /** Unix milliseconds of the last failure. */
  lastFailure: number;
}

/** An account's failures from all clients in the current window. */
interface AccountEntry {
  failures: number;
  /** Unix milliseconds at which the window (`forget_after` from its first failure) ends. */
  windowEnd: number;
}

/** A pair's counts in two tables of `max_entries` each, least recently used dropped first. */
class PairTable {
  /** Pairs below `max_failures`. */
  readonly counting: LRUCache<string, Entry>;
  /** Pairs that reached `max_failures` (locked now, or locked again by their next failure). */
  readonly locked: LRUCache<string, Entry>;

  constructor(maxEntries: number) {
    this.counting = new LRUCache({ max: maxEntries });
    this.locked = new LRUCache({ max: maxEntries });
  }

  /** The pair's entry, unless it was forgotten (forget_after seconds since the last failure, and unlocked). */
  live(k: string, policy: LimitPolicy, now: number): Entry | undefined {
    const table = this.locked.has(k) ? this.locked : this.counting;
    const entry = table.get(k);
    if (!entry) return undefined;
    if (now >= entry.lockedUntil && now - entry.lastFailure >= policy.forget_after * 1000) {
      table.delete(k);
      return undefined;
    }
    return entry;
  }

  store(k: string, entry: Entry, policy: LimitPolicy, now: number): void {
    const ttl = Math.max(policy.forget_after * 1000, entry.lockedUntil - now);
    if (entry.failures >= policy.max_failures) {
      this.counting.delete(k);
      this.locked.set(k, entry, { ttl });
    } else {
      this.counting.set(k, entry, { ttl });
    }
  }

  delete(k: string): void {
    this.counting.delete(k);
    this.locked.delete(k);
  }

  get size(): number {
    return this.counting.size + this.locked.size;
  }
}

/**
 * The lockout's state in this process, in bounded memory where the least valuable counts go
 * first. Pairs of accounts a backend vouched for (static users, a directory entry: the backend
 * denied the password naming the account) and pairs of all other accounts (made up, or denied
 * by a backend that cannot tell: app passwords, CI tokens, an external program) are kept in
 * separate tables, so no number of failures for made-up accounts (cheap with oidc_auth or
 * jwt_auth) pushes out a real account's count. Each class has two tables of `max_entries`
 * pairs, least recently used dropped first: one for pairs still counting, one for pairs that
 * reached `max_failures`, so a flood of new pairs only pushes out other counting pairs of its
 * class, never a lock. The per-account counts of accounts a backend vouched for are kept until
 * their window ends (their number is bounded by the backends' accounts); those of other
 * accounts in an LRU of `max_entries`. Checks in flight are counted per pair and per account
 * (never evicted: each is released by its attempt).
 */
export class MemoryLockoutStore implements LockoutStore {
  readonly #known: PairTable;
  readonly #unknown: PairTable;
  readonly #knownAccounts = new Map<string, AccountEntry>();
  #sweepAt = 1024;
  readonly #unknownAccounts: LRUCache<string, AccountEntry>;
  /** Pairs that logged in (unix milliseconds of the last success), exempt from the account cap. */
  readonly #successes: LRUCache<string, number>;
  readonly #inFlight = new Map<string, number>();
  readonly #accountsInFlight = new Map<string, number>();

  constructor(maxEntries: number) {
    this.#known = new PairTable(maxEntries);
    this.#unknown = new PairTable(maxEntries);
    this.#unknownAccounts = new LRUCache({ max: maxEntries });
    this.#successes = new LRUCache({ max: maxEntries });
  }

  blocked(k: string, a: string, policy: LimitPolicy, now: number): Promise<number> {
    return Promise.resolve(this.blockedNow(k, a, policy, now));
  }

  /** `blocked`, answered at once (memory never waits). */
  blockedNow(k: string, a: string, policy: LimitPolicy, now: number): number {
    const entry = this.#live(k, policy, now);
    if (entry && entry.lockedUntil > now) return Math.ceil((entry.lockedUntil - now) / 1000);
    if (this.#exempt(k, policy, now)) return 0;
    const acct = this.#liveAccount(a, now);
    if (acct && acct.failures >= policy.account_max_failures) {
      return Math.max(1, Math.ceil((acct.windowEnd - now) / 1000));
    }
    return 0;
  }

  reserve(k: string, a: string, policy: LimitPolicy, now: number): Promise<ReserveOutcome> {
    return Promise.resolve(this.reserveNow(k, a, policy, now));
  }

  reserveNow(k: string, a: string, policy: LimitPolicy, now: number): ReserveOutcome {
    const entry = this.#live(k, policy, now);
    if (entry && entry.lockedUntil > now) return { refused: Math.ceil((entry.lockedUntil - now) / 1000) };
    const failures = entry?.failures ?? 0;
    const inFlight = this.#inFlight.get(k) ?? 0;
    const budget = failures < policy.max_failures ? policy.max_failures - failures : 1;
    if (inFlight >= budget) return 'pair';
    if (!this.#exempt(k, policy, now)) {
      const acct = this.#liveAccount(a, now);
      if (acct && acct.failures >= policy.account_max_failures) {
        return { refused: Math.max(1, Math.ceil((acct.windowEnd - now) / 1000)) };
      }
      const pending = this.#accountsInFlight.get(a) ?? 0;
      if ((acct?.failures ?? 0) + pending >= policy.account_max_failures) return 'account';
    }
    this.#inFlight.set(k, inFlight + 1);
    this.#accountsInFlight.set(a, (this.#accountsInFlight.get(a) ?? 0) + 1);
    return { key: k, account: a, id: randomUUID() };
  }

  release(reservation: Reservation): Promise<void> {
    decrement(this.#inFlight, reservation.key);
    decrement(this.#accountsInFlight, reservation.account);
    return Promise.resolve();
  }

  failure(k: string, a: string, known: boolean, policy: LimitPolicy, now: number): Promise<boolean> {
    return Promise.resolve(this.failureNow(k, a, known, policy, now));
  }

  failureNow(k: string, a: string, known: boolean, policy: LimitPolicy, now: number): boolean {
    this.#accountFailure(a, known, policy, now);
    const wasKnown = this.#known.live(k, policy, now);
    const entry = wasKnown ??
      this.#unknown.live(k, policy, now) ?? { failures: 0, lockedUntil: 0, lastFailure: 0 };
    entry.failures += 1;
    entry.lastFailure = now;
    const locks = entry.failures >= policy.max_failures;
    if (locks) entry.lockedUntil = now + lockSeconds(policy, entry.failures) * 1000;
    if (known || wasKnown) {
      this.#unknown.delete(k);
      this.#known.store(k, entry, policy, now);
    } else {
      this.#unknown.store(k, entry, policy, now);
    }
    return locks;
  }

  success(k: string, policy: LimitPolicy, now: number): Promise<void> {
    this.#known.delete(k);
    this.#unknown.delete(k);
    this.#successes.set(k, now, { ttl: policy.remember_success * 1000 });
    return Promise.resolve();
  }

  get size(): number {
    return this.#known.size + this.#unknown.size;
  }

  #live(k: string, policy: LimitPolicy, now: number): Entry | undefined {
    return this.#known.live(k, policy, now) ?? this.#unknown.live(k, policy, now);
  }

  #exempt(k: string, policy: LimitPolicy, now: number): boolean {
    const lastSuccess = this.#successes.get(k);
    return lastSuccess !== undefined && now - lastSuccess < policy.remember_success * 1000;
  }

  #liveAccount(a: string, now: number): AccountEntry | undefined {
    const entry = this.#knownAccounts.get(a) ?? this.#unknownAccounts.get(a);
    return entry && now < entry.windowEnd ? entry : undefined;
  }

  #accountFailure(a: string, known: boolean, policy: LimitPolicy, now: number): void {
    const wasKnown = this.#knownAccounts.get(a);
    let entry = this.#liveAccount(a, now);
    if (!entry) entry = { failures: 0, windowEnd: now + policy.forget_after * 1000 };
    entry.failures += 1;
    if (known || wasKnown) {
      this.#unknownAccounts.delete(a);
      this.#knownAccounts.set(a, entry);
      if (this.#knownAccounts.size >= this.#sweepAt) {
        for (const [k, e] of this.#knownAccounts) if (now >= e.windowEnd) this.#knownAccounts.delete(k);
        this.#sweepAt = Math.max(1024, this.#knownAccounts.size * 2);
      }
    } else {
      this.#unknownAccounts.set(a, entry, { ttl: Math.max(1, entry.windowEnd - now) });
    }
  }
}

function decrement(map: Map<string, number>, k: string): void {
  const left = (map.get(k) ?? 1) - 1;
  if (left > 0) map.set(k, left);
  else map.delete(k);
}

/**
 * How many unexpired marks one namespace holds at most in memory. Past it a new mark is refused
 * (the store cannot answer: 503), never made by forgetting another: a forgotten sign-out would
 * let its cookie in again, a forgotten login cookie could be spent twice.
 */
const MAX_MARKS = 100_000;

/** The memory store: this process only (`store.type: memory`). */
export class MemoryStore implements Store {
  readonly type = 'memory' as const;
  readonly shared = false;
  readonly lockout: MemoryLockoutStore;
  /** Per namespace, each mark's expiry (Unix milliseconds), in the order the marks were made. */
  readonly #marks = new Map<string, Map<string, number>>();
  readonly #maxMarks: number;

  constructor(options: {
    /** The lockout's tables (`lockout.max_entries`). */
    maxEntries: number;
    /** Unexpired marks per namespace (default 100,000). */
    maxMarks?: number;
  }) {
    this.lockout = new MemoryLockoutStore(options.maxEntries);
    this.#maxMarks = options.maxMarks ?? MAX_MARKS;
  }

  mark(namespace: string, id: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    let marks = this.#marks.get(namespace);
    if (!marks) this.#marks.set(namespace, (marks = new Map()));
    // Marks of one kind mostly live alike, so the oldest expire first: drop those from the front.
    for (const [old, at] of marks) {
      if (at > nowMs) break;
      marks.delete(old);
    }
    const exp = marks.get(id);
    if (exp !== undefined && exp > nowMs) return Promise.resolve(false);
    if (marks.size >= this.#maxMarks) {
      for (const [old, at] of marks) if (at <= nowMs) marks.delete(old);
      if (marks.size >= this.#maxMarks) {
        return Promise.reject(
          new StoreUnavailableError(
            `${marks.size} unexpired marks in ${namespace}, the most one process keeps`,
          ),
        );
      }
    }
    marks.delete(id);
    marks.set(id, expiresAtMs);
    return Promise.resolve(true);
  }

  marked(namespace: string, id: string, nowMs: number): Promise<boolean> {
    const exp = this.#marks.get(namespace)?.get(id);
    return Promise.resolve(exp !== undefined && exp > nowMs);
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  problem(): undefined {
    return undefined;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
