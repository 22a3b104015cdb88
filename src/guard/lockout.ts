import { LRUCache } from 'lru-cache';
import type { LockoutConfig } from './config.js';
import { RegauthError, TooManyRequestsError, UnauthorizedError } from '../core/errors.js';
import { foldAccountName } from '../core/account-name.js';
import { clientKey } from './client.js';

/** The `lockout:` policy, in seconds. */
export type LockoutPolicy = Pick<
  LockoutConfig,
  | 'enabled'
  | 'max_failures'
  | 'backoff'
  | 'max_backoff'
  | 'forget_after'
  | 'ipv6_prefix'
  | 'account_max_failures'
  | 'remember_success'
>;

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
  live(k: string, policy: LockoutPolicy, now: number): Entry | undefined {
    const table = this.locked.has(k) ? this.locked : this.counting;
    const entry = table.get(k);
    if (!entry) return undefined;
    if (now >= entry.lockedUntil && now - entry.lastFailure >= policy.forget_after * 1000) {
      table.delete(k);
      return undefined;
    }
    return entry;
  }

  store(k: string, entry: Entry, policy: LockoutPolicy, now: number): void {
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
 * Brute-force protection that cannot be turned against users: failures are counted per
 * (account, client address), so an attacker elsewhere cannot slow the account's owner down.
 * The `max_failures`-th failure locks the pair for `backoff` seconds and each further one for
 * twice as long as the last (capped at `max_backoff`); a success forgets the pair; so does
 * `forget_after` seconds without a failure. An attempt is reserved before its password is
 * checked, so concurrent attempts cannot outrun the count.
 *
 * Memory is bounded, and the least valuable counts go first. Pairs of accounts a backend
 * vouched for (static users, a directory entry: the backend denied the password naming the
 * account) and pairs of all other accounts (made up, or denied by a backend that cannot tell:
 * app passwords, CI tokens, an external program) are kept in separate tables, so no number of
 * failures for made-up accounts (cheap with oidc_auth or jwt_auth) pushes out a real account's
 * count. Each class has two tables of `max_entries` pairs, least recently used dropped first:
 * one for pairs still counting, one for pairs that reached `max_failures`, so a flood of new
 * pairs only pushes out other counting pairs of its class, never a lock.
 * Accounts are compared the way directories compare them (case, surrounding and repeated
 * spaces, Unicode compatibility forms ignored), so `ALICE ` shares alice's count. An IPv6 client
 * is its network of `ipv6_prefix` bits (a /64), not one of its countless addresses.
 *
 * Against guessing from many addresses, an account's failures from all clients together are
 * counted too, in windows of `forget_after` seconds: past `account_max_failures` in a window,
 * clients get 429 for that account until the window ends, except clients that logged in to it
 * within `remember_success` seconds: nobody can lock a user out from where they log in. The
 * counts of accounts a backend vouched for are kept until their window ends (their number is
 * bounded by the backends' accounts); those of other accounts in an LRU of `max_entries`.
 *
 * The state outlives config reloads (it belongs to the process); the policy is read per call,
 * so a reloaded `lockout:` applies at once, except `max_entries`, which is fixed at start.
 */
export class Lockout {
  /** Pairs of accounts a backend vouched for. */
  readonly #known: PairTable;
  /** Pairs of every other account. */
  readonly #unknown: PairTable;
  /** Per-account counts of accounts a backend vouched for (swept when their window ends). */
  readonly #knownAccounts = new Map<string, AccountEntry>();
  #sweepAt = 1024;
  /** Per-account counts of every other account. */
  readonly #unknownAccounts: LRUCache<string, AccountEntry>;
  /** Pairs that logged in (unix milliseconds of the last success), exempt from the account cap. */
  readonly #successes: LRUCache<string, number>;
  /** Attempts whose password is being checked right now, per pair and per account (never evicted). */
  readonly #inFlight = new Map<string, number>();
  readonly #accountsInFlight = new Map<string, number>();
  /** Attempts waiting for a check in flight to settle: a line per pair (`p` + key) and per account (`a` + key). */
  readonly #waiters = new Map<string, (() => void)[]>();
  readonly #policy: () => LockoutPolicy;
  readonly #now: () => number;

  constructor(options: { maxEntries: number; policy: () => LockoutPolicy; now?: () => number }) {
    this.#policy = options.policy;
    this.#now = options.now ?? Date.now;
    this.#known = new PairTable(options.maxEntries);
    this.#unknown = new PairTable(options.maxEntries);
    this.#unknownAccounts = new LRUCache({ max: options.maxEntries });
    this.#successes = new LRUCache({ max: options.maxEntries });
  }

  /** Throws TooManyRequestsError (with the seconds to wait) while the pair is locked. */
  check(account: string, ip: string | null): void {
    const wait = this.blocked(account, ip);
    if (wait > 0) throw new TooManyRequestsError(wait);
  }

  /**
   * Seconds the pair must wait (0: it may try): while the pair is locked, or while the account
   * is past `account_max_failures` and this client has no recent success for it. Checks in
   * flight are not looked at (see `reserve`).
   */
  blocked(account: string, ip: string | null): number {
    const policy = this.#policy();
    if (!policy.enabled) return 0;
    const { pair: k, account: a } = keys(account, ip, policy);
    const now = this.#now();
    const entry = this.#live(k, policy);
    if (entry && entry.lockedUntil > now) return Math.ceil((entry.lockedUntil - now) / 1000);
    if (this.#exempt(k, policy, now)) return 0;
    const acct = this.#liveAccount(a, now);
    if (acct && acct.failures >= policy.account_max_failures) {
      return Math.max(1, Math.ceil((acct.windowEnd - now) / 1000));
    }
    return 0;
  }

  /**
   * Reserves one password check for the pair before it is made. Refused (TooManyRequestsError)
   * while the pair is locked, or while the account is past `account_max_failures` and this
   * client has no recent success for it. While as many checks are in flight as failures are
   * left before the lock (one at a time once the pair has reached `max_failures`), or as the
   * account has failures left, the attempt waits in line for one of them to settle, then asks
   * again: so however many requests arrive at once, at most `max_failures` passwords of a pair
   * (and `account_max_failures` of an account) are checked before the lock, and a burst of
   * logins with the right password is served a few at a time instead of being refused. A wait
   * longer than MAX_WAIT_MS, or behind MAX_WAITING others, is refused. The reservation is given
   * back by `release` once the attempt is settled (`failure`/`success` first). Undefined when
   * the lockout is disabled.
   */
  async reserve(account: string, ip: string | null): Promise<Reservation | undefined> {
    if (!this.#policy().enabled) return undefined;
    const k = keys(account, ip, this.#policy());
    const lines = { pair: `p${k.pair}`, account: `a${k.account}` };
    const deadline = this.#now() + MAX_WAIT_MS;
    /** The line this attempt was last woken from. */
    let woken: string | undefined;
    for (;;) {
      const policy = this.#policy();
      if (!policy.enabled) return undefined;
      let verdict: Reservation | 'pair' | 'account';
      try {
        verdict = this.#tryReserve(k.pair, k.account, policy);
      } catch (err) {
        // The next ones waiting are likely refused too: let them find out now, not at their deadline.
        this.#wakeNext(lines.pair);
        this.#wakeNext(lines.account);
        throw err;
      }
      if (typeof verdict === 'object') {
        // A success may have made room for more than one: the next ones waiting ask too.
        this.#wakeNext(lines.pair);
        this.#wakeNext(lines.account);
        return verdict;
      }
      const line = lines[verdict];
      // Woken for a slot on one line, held back by the other: the slot goes to the next in line.
      if (woken !== undefined && woken !== line) this.#wakeNext(woken);
      const left = deadline - this.#now();
      if (left <= 0 || (woken !== line && (this.#waiters.get(line)?.length ?? 0) >= MAX_WAITING)) {
        throw new TooManyRequestsError(1);
      }
      // Woken and still no room on the same line (someone else took the slot): back to its head.
      await this.#settled(line, left, woken === line);
      woken = line;
    }
  }

  /**
   * A reservation, or which limit ('pair', 'account') has no room while checks are in flight;
   * throws when refused.
   */
  #tryReserve(k: string, a: string, policy: LockoutPolicy): Reservation | 'pair' | 'account' {
    const now = this.#now();
    const entry = this.#live(k, policy);
    if (entry && entry.lockedUntil > now) {
      throw new TooManyRequestsError(Math.ceil((entry.lockedUntil - now) / 1000));
    }
    const failures = entry?.failures ?? 0;
    const inFlight = this.#inFlight.get(k) ?? 0;
    const budget = failures < policy.max_failures ? policy.max_failures - failures : 1;
    if (inFlight >= budget) return 'pair';
    if (!this.#exempt(k, policy, now)) {
      const acct = this.#liveAccount(a, now);
      if (acct && acct.failures >= policy.account_max_failures) {
        throw new TooManyRequestsError(Math.max(1, Math.ceil((acct.windowEnd - now) / 1000)));
      }
      const pending = this.#accountsInFlight.get(a) ?? 0;
      if ((acct?.failures ?? 0) + pending >= policy.account_max_failures) return 'account';
    }
    this.#inFlight.set(k, inFlight + 1);
    this.#accountsInFlight.set(a, (this.#accountsInFlight.get(a) ?? 0) + 1);
    return { key: k, account: a };
  }

  /**
   * Resolves when this waiter's turn comes in the line `key` (a check in flight there settled),
   * or after `ms`; `first` puts it at the head of the line.
   */
  #settled(key: string, ms: number, first: boolean): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        const line = this.#waiters.get(key);
        const at = line?.indexOf(wake) ?? -1;
        if (at >= 0) line!.splice(at, 1);
        if (line?.length === 0) this.#waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      let line = this.#waiters.get(key);
      if (!line) this.#waiters.set(key, (line = []));
      if (first) line.unshift(wake);
      else line.push(wake);
    });
  }

  /** Wakes the first attempt waiting on `key`, if any. */
  #wakeNext(key: string): void {
    this.#waiters.get(key)?.[0]?.();
  }

  /** Gives a reservation back (after its attempt was counted as a failure or a success, or not at all). */
  release(reservation: Reservation | undefined): void {
    if (!reservation) return;
    decrement(this.#inFlight, reservation.key);
    decrement(this.#accountsInFlight, reservation.account);
    this.#wakeNext(`p${reservation.key}`);
    this.#wakeNext(`a${reservation.account}`);
  }

  /**
   * Counts a failed attempt; returns true when it locked the pair (for the lockout metric).
   * `known`: a backend vouched that the account exists (its count is kept apart from made-up
   * accounts'); a pair once counted as known stays known.
   */
  failure(account: string, ip: string | null, known = false): boolean {
    const policy = this.#policy();
    if (!policy.enabled) return false;
    const { pair: k, account: a } = keys(account, ip, policy);
    const now = this.#now();
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

  /**
   * A successful login forgets the pair's failures, and exempts the pair from the account cap
   * for `remember_success` seconds. (The account's count stays: others may still be guessing.)
   */
  success(account: string, ip: string | null): void {
    const policy = this.#policy();
    const { pair: k } = keys(account, ip, policy);
    this.#known.delete(k);
    this.#unknown.delete(k);
    if (policy.enabled) this.#successes.set(k, this.#now(), { ttl: policy.remember_success * 1000 });
  }

  /** How many pairs are remembered (for tests and the memory bound). */
  get size(): number {
    return this.#known.size + this.#unknown.size;
  }

  #live(k: string, policy: LockoutPolicy): Entry | undefined {
    const now = this.#now();
    return this.#known.live(k, policy, now) ?? this.#unknown.live(k, policy, now);
  }

  /** Whether the pair logged in within `remember_success` (exempt from the account cap). */
  #exempt(k: string, policy: LockoutPolicy, now: number): boolean {
    const lastSuccess = this.#successes.get(k);
    return lastSuccess !== undefined && now - lastSuccess < policy.remember_success * 1000;
  }

  /** The account's count in the current window, from either class. */
  #liveAccount(a: string, now: number): AccountEntry | undefined {
    const entry = this.#knownAccounts.get(a) ?? this.#unknownAccounts.get(a);
    return entry && now < entry.windowEnd ? entry : undefined;
  }

  #accountFailure(a: string, known: boolean, policy: LockoutPolicy, now: number): void {
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

/** The longest an attempt waits for checks in flight to settle before it is refused. */
const MAX_WAIT_MS = 10_000;
/** How many attempts of one pair may wait at once; more are refused at once. */
const MAX_WAITING = 1000;

/** A reserved password check (Lockout.reserve). */
export interface Reservation {
  readonly key: string;
  readonly account: string;
}

/** Seconds of the lock set by the `failures`-th failure (at least `max_failures`). */
function lockSeconds(policy: LockoutPolicy, failures: number): number {
  const over = Math.max(0, failures - policy.max_failures);
  return Math.min(policy.max_backoff, policy.backoff * 2 ** Math.min(over, 40));
}

/**
 * The map keys of the account and of the pair. The account is folded the way directories compare
 * names (LDAP matches `ALICE` and ` alice` to alice), so no spelling gets a count of its own;
 * the client is its address, or its network for IPv6; the length prefix keeps "a" + "b:c" apart
 * from "a:b" + "c".
 */
function keys(account: string, ip: string | null, policy: LockoutPolicy): { pair: string; account: string } {
  const folded = foldAccountName(account);
  return { pair: `${folded.length}:${folded}${clientKey(ip, policy.ipv6_prefix)}`, account: folded };
}

/**
 * Runs a password attempt under the lockout: the attempt is reserved before the password is
 * checked (429 while the (account, address) pair is locked or has as many checks in flight as
 * failures left); a refused password counts as a failure, a success forgets the pair.
 *
 * Counts are kept for the account as the backend holds it when the backend names it (a
 * directory that found alice for `alice@example.org`, a spelling no fold can know in advance):
 * a failure counts on the stored account and on the spelling typed, and while the stored
 * account is held back for this client the answer is 429 whatever the password was, so another
 * spelling never gets a locked account in, nor tells whether the password was right.
 * Requests without a password (anonymous, refresh tokens) are not password guesses: they pass.
 * A login the credential cache holds waits for no check in flight, but is refused while locked.
 */
export async function withLockout<T extends { readonly account: string }>(
  lockout: Lockout | undefined,
  attempt: {
    readonly account: string;
    readonly password: unknown;
    readonly ip: string | null;
    /** Whether the credential cache holds this very account and password (a recent success). */
    readonly cached?: () => boolean;
  },
  run: () => Promise<T>,
  onLocked?: () => void,
): Promise<T> {
  if (!lockout || attempt.password === undefined) return run();
  const { account: typed, ip } = attempt;
  // A login the credential cache holds is the right password, not a guess: it waits for no
  // check in flight (a docker push's many token requests), though a lock still holds it back.
  let reservation: Reservation | undefined;
  if (attempt.cached?.()) lockout.check(typed, ip);
  else reservation = await lockout.reserve(typed, ip);
  try {
    const result = await run();
    if (respelled(typed, result.account)) {
      const wait = lockout.blocked(result.account, ip);
      if (wait > 0) throw new TooManyRequestsError(wait);
      lockout.success(result.account, ip);
    }
    lockout.success(typed, ip);
    return result;
  } catch (err) {
    if (
      err instanceof RegauthError &&
      (err.code === 'ERR_UNAUTHORIZED' || err.code === 'ERR_INVALID_GRANT')
    ) {
      const stored = err instanceof UnauthorizedError ? err.decision?.account : undefined;
      if (stored !== undefined && respelled(typed, stored)) {
        const wait = lockout.blocked(stored, ip);
        const locked = lockout.failure(stored, ip, true);
        lockout.failure(typed, ip, true);
        if (locked) onLocked?.();
        if (wait > 0) throw new TooManyRequestsError(wait);
      } else if (lockout.failure(typed, ip, stored !== undefined)) {
        onLocked?.();
      }
    }
    throw err;
  } finally {
    lockout.release(reservation);
  }
}

/** Whether the backend holds the account under a name that folds otherwise than what was typed. */
function respelled(typed: string, stored: string): boolean {
  return stored !== typed && foldAccountName(stored) !== foldAccountName(typed);
}
