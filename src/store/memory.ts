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
import { OverflowSketch } from './sketch.js';

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

/** The sketch key of a pair's counts since its success at `success` (Unix milliseconds). */
function since(k: string, success: number): string {
  return `${k}\u0000${success}`;
}

/** The longest a count lives once pushed out (a failure's `forget_after`, a lock's `max_backoff`). */
function lifetime(policy: LimitPolicy): number {
  return Math.max(policy.forget_after, policy.max_backoff) * 1000;
}

/**
 * The pairs' counts in two tables of `max_entries` each, least recently used pushed out first
 * into a sketch that never undercounts: one for pairs still counting, one for pairs that reached
 * `max_failures`, so a flood of new pairs pushes out counting pairs before any lock.
 */
class PairTable {
  /** Pairs below `max_failures`. */
  readonly counting: LRUCache<string, Entry>;
  /** Pairs that reached `max_failures` (locked now, or locked again by their next failure). */
  readonly locked: LRUCache<string, Entry>;
  /** What the tables pushed out: failures, lockedUntil, lastFailure. */
  readonly #overflow: OverflowSketch;
  /** Pushed out by the `set` in progress, folded into the sketch once it returns. */
  readonly #evicted: [string, Entry][] = [];
  /** Unix milliseconds of the pair's last success, if still known. */
  readonly #lastSuccess: (k: string) => number | undefined;

  constructor(maxEntries: number, lastSuccess: (k: string) => number | undefined) {
    this.#overflow = new OverflowSketch(3, 2 * maxEntries);
    this.#lastSuccess = lastSuccess;
    const dispose = (entry: Entry, k: string, reason: LRUCache.DisposeReason) => {
      if (reason === 'evict') this.#evicted.push([k, entry]);
    };
    this.counting = new LRUCache({ max: maxEntries, dispose });
    this.locked = new LRUCache({ max: maxEntries, dispose });
  }

  /**
   * The pair's entry, unless it was forgotten (forget_after seconds since the last failure, and
   * unlocked); for a pair pushed out of the tables, what the sketch holds (not stored until changed).
   */
  live(k: string, policy: LimitPolicy, now: number): Entry | undefined {
    const table = this.locked.has(k) ? this.locked : this.counting;
    const entry = table.get(k) ?? this.#pushedOut(k, policy, now);
    if (!entry) return undefined;
    if (now < entry.lockedUntil || now - entry.lastFailure < policy.forget_after * 1000) return entry;
    table.delete(k);
    return undefined;
  }

  /**
   * What the sketch holds for a pair not in the tables; nothing while it can hold nothing live.
   * A count is folded under the pair and the time of the success it followed (a success forgets
   * the pair), and under the pair alone: read under the pair's last success while that is known,
   * it holds nothing from before it; read under the pair alone (the success forgotten), it holds
   * every count the pair folded, before and after, so it may say more, never less.
   */
  #pushedOut(k: string, policy: LimitPolicy, now: number): Entry | undefined {
    // The usual case, asked on every cached login: nothing ever overflowed.
    if (this.#overflow.empty) return undefined;
    const span = lifetime(policy);
    const [, maxLocked, maxLast] = this.#overflow.max(now, span) as [number, number, number];
    if (now >= Math.max(maxLocked, maxLast + policy.forget_after * 1000)) return undefined;
    const success = this.#lastSuccess(k);
    const key = success === undefined ? k : since(k, success);
    const [failures, lockedUntil, lastFailure] = this.#overflow.read(key, now, span) as [
      number,
      number,
      number,
    ];
    // Only failures other pairs left in its cells, all of them before its success: not its own.
    if (failures === 0 || (success !== undefined && lastFailure < success)) return undefined;
    return { failures, lockedUntil, lastFailure };
  }

  store(k: string, entry: Entry, policy: LimitPolicy, now: number): void {
    const ttl = Math.max(policy.forget_after * 1000, entry.lockedUntil - now);
    if (entry.failures >= policy.max_failures) {
      this.counting.delete(k);
      this.locked.set(k, entry, { ttl });
    } else {
      this.counting.set(k, entry, { ttl });
    }
    for (const [key, out] of this.#evicted.splice(0)) {
      // As long as the entry would have lived in the table, under the policy of then or of now.
      const span = Math.max(
        lifetime(policy),
        out.lockedUntil - now,
        out.lastFailure + policy.forget_after * 1000 - now,
      );
      const record = [out.failures, out.lockedUntil, out.lastFailure];
      this.#overflow.add(key, record, now, span);
      // An entry in the table came after the pair's last success, which deleted the one before.
      const success = this.#lastSuccess(key);
      if (success !== undefined) this.#overflow.add(since(key, success), record, now, span);
    }
  }

  /** Forgets the pair (a success; the caller records its time, which the sketch's reading yields to). */
  clear(k: string): void {
    this.locked.delete(k);
    this.counting.delete(k);
  }

  get size(): number {
    return this.counting.size + this.locked.size;
  }
}

/** The per-account counts in a table of `max_entries`, least recently used pushed out into a sketch. */
class AccountTable {
  readonly #entries: LRUCache<string, AccountEntry>;
  /** What the table pushed out: failures, windowEnd. */
  readonly #overflow: OverflowSketch;
  readonly #evicted: [string, AccountEntry][] = [];

  constructor(maxEntries: number) {
    this.#overflow = new OverflowSketch(2, maxEntries);
    this.#entries = new LRUCache({
      max: maxEntries,
      dispose: (entry, a, reason) => {
        if (reason === 'evict') this.#evicted.push([a, entry]);
      },
    });
  }

  /** The account's count in its current window, or undefined. */
  live(a: string, policy: LimitPolicy, now: number): AccountEntry | undefined {
    const entry = this.#entries.get(a);
    if (entry) return now < entry.windowEnd ? entry : undefined;
    if (this.#overflow.empty) return undefined;
    const span = lifetime(policy);
    if (now >= (this.#overflow.max(now, span)[1] ?? 0)) return undefined;
    const [failures, windowEnd] = this.#overflow.read(a, now, span) as [number, number];
    return failures > 0 && now < windowEnd ? { failures, windowEnd } : undefined;
  }

  store(a: string, entry: AccountEntry, policy: LimitPolicy, now: number): void {
    this.#entries.set(a, entry, { ttl: Math.max(1, entry.windowEnd - now) });
    for (const [key, out] of this.#evicted.splice(0)) {
      const span = Math.max(lifetime(policy), out.windowEnd - now);
      this.#overflow.add(key, [out.failures, out.windowEnd], now, span);
    }
  }
}

/** How many clients' logins an account's exemptions remember (the latest); see MemoryLockoutStore. */
const LOGINS_PER_ACCOUNT = 64;

/**
 * The lockout's state in this process, in bounded memory. The pairs' counts are kept in two
 * tables of `max_entries` pairs, least recently used first out: one for pairs still counting,
 * one for pairs that reached `max_failures`, so a flood of new pairs pushes out other counting
 * pairs, never a lock while counting pairs remain; the per-account counts in one more. What a
 * table pushes out is folded into a sketch of fixed size (OverflowSketch) that never
 * undercounts: a count, lock or window outlives any flood until its time is up, whatever the
 * account, so nothing a flood does tells a real account from a made-up name, and no flood
 * resets a count. The sketch forgets in generations of `max(forget_after, max_backoff)`, and
 * a success makes the pair's earlier failures in it count no more. The price of the fixed size:
 * once more pairs than the tables hold failed within a generation, a pair read from the sketch
 * may carry failures other pairs left in its cells (the more, the larger the flood). Checks in
 * flight are counted per pair and per account (never pushed out: each is released by its attempt).
 */
export class MemoryLockoutStore implements LockoutStore {
  readonly #pairs: PairTable;
  readonly #accounts: AccountTable;
  /**
   * Pairs that logged in (unix milliseconds of the last success): exempt from the account cap
   * for `remember_success`, and their earlier failures in the sketch count no more.
   */
  readonly #successes: LRUCache<string, number>;
  /**
   * The same logins by account (the clients each logged in from, the latest LOGINS_PER_ACCOUNT),
   * which the exemption reads: in one table of pairs, logins of other pairs (one account from
   * many addresses) pushed a user's out, and others' guesses could then lock them out where they
   * log in. Bounded to `max_entries` logins in all, an account's counting as many as it holds.
   */
  readonly #loggedIn: LRUCache<string, Map<string, number>>;
  readonly #inFlight = new Map<string, number>();
  readonly #accountsInFlight = new Map<string, number>();

  constructor(maxEntries: number) {
    this.#successes = new LRUCache({ max: maxEntries });
    this.#loggedIn = new LRUCache({ maxSize: maxEntries, sizeCalculation: (clients) => clients.size });
    this.#pairs = new PairTable(maxEntries, (k) => this.#successes.peek(k));
    this.#accounts = new AccountTable(maxEntries);
  }

  blocked(k: string, a: string, policy: LimitPolicy, now: number): Promise<number> {
    return Promise.resolve(this.blockedNow(k, a, policy, now));
  }

  /** `blocked`, answered at once (memory never waits). */
  blockedNow(k: string, a: string, policy: LimitPolicy, now: number): number {
    const locked = secondsLocked(this.#pairs.live(k, policy, now), now);
    if (locked > 0) return locked;
    if (this.#exempt(k, a, policy, now)) return 0;
    const acct = this.#accounts.live(a, policy, now);
    if (acct && acct.failures >= policy.account_max_failures) {
      return Math.max(1, Math.ceil((acct.windowEnd - now) / 1000));
    }
    return 0;
  }

  reserve(k: string, a: string, policy: LimitPolicy, now: number): Promise<ReserveOutcome> {
    return Promise.resolve(this.reserveNow(k, a, policy, now));
  }

  reserveNow(k: string, a: string, policy: LimitPolicy, now: number): ReserveOutcome {
    const entry = this.#pairs.live(k, policy, now);
    const locked = secondsLocked(entry, now);
    if (locked > 0) return { refused: locked };
    const failures = entry?.failures ?? 0;
    const inFlight = this.#inFlight.get(k) ?? 0;
    const budget = failures < policy.max_failures ? policy.max_failures - failures : 1;
    if (inFlight >= budget) return 'pair';
    if (!this.#exempt(k, a, policy, now)) {
      const acct = this.#accounts.live(a, policy, now);
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

  failure(k: string, a: string, policy: LimitPolicy, now: number): Promise<boolean> {
    return Promise.resolve(this.failureNow(k, a, policy, now));
  }

  failureNow(k: string, a: string, policy: LimitPolicy, now: number): boolean {
    const acct = this.#accounts.live(a, policy, now) ?? {
      failures: 0,
      windowEnd: now + policy.forget_after * 1000,
    };
    acct.failures += 1;
    this.#accounts.store(a, acct, policy, now);
    const entry = this.#pairs.live(k, policy, now) ?? { failures: 0, lockedUntil: 0, lastFailure: 0 };
    entry.failures += 1;
    entry.lastFailure = now;
    const locks = entry.failures >= policy.max_failures;
    if (locks) entry.lockedUntil = now + lockSeconds(policy, entry.failures) * 1000;
    this.#pairs.store(k, entry, policy, now);
    return locks;
  }

  success(k: string, a: string, policy: LimitPolicy, now: number): Promise<number> {
    const locked = secondsLocked(this.#pairs.live(k, policy, now), now);
    if (locked > 0) return Promise.resolve(locked);
    this.#pairs.clear(k);
    // Kept as long as the exemption lasts, and at least as long as a count pushed out before it
    // lives in the sketch: the sketch's reading yields to a later success.
    const ttl = Math.max(policy.remember_success * 1000, lifetime(policy));
    this.#successes.set(k, now, { ttl });
    const known = this.#loggedIn.get(a);
    if (known?.has(k)) {
      // A client known already (the usual case): the latest now, in place; its size is the same.
      // The account's only client is the latest already: no delete (V8 shrinks an emptied Map's
      // table, and the set grows it again, two allocations per cached login).
      if (known.size > 1) known.delete(k);
      known.set(k, now);
      this.#loggedIn.set(a, known, { ttl });
    } else {
      // A new map: lru-cache measures an entry only when its value is another object, and the
      // account's size (what the table pushes out) must follow its logins.
      const clients = new Map(known);
      clients.set(k, now);
      if (clients.size > LOGINS_PER_ACCOUNT) clients.delete(clients.keys().next().value!);
      this.#loggedIn.set(a, clients, { ttl });
    }
    return Promise.resolve(0);
  }

  get size(): number {
    return this.#pairs.size;
  }

  #exempt(k: string, a: string, policy: LimitPolicy, now: number): boolean {
    const lastSuccess = this.#loggedIn.get(a)?.get(k);
    return lastSuccess !== undefined && now - lastSuccess < policy.remember_success * 1000;
  }
}

/** The whole seconds a pair stays locked, 0 when it is not. */
function secondsLocked(entry: Entry | undefined, now: number): number {
  return entry && entry.lockedUntil > now ? Math.ceil((entry.lockedUntil - now) / 1000) : 0;
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
