import { RegauthError } from '../core/errors.js';

/**
 * The contract of a store: the state that must be one across replicas. The lockout's counts
 * (per (account, client) pair and per account), its locks, its checks in flight, the pairs that
 * logged in recently; and marks that live until they expire (a signed-out session, a used login
 * cookie). `memory` keeps them in this process; `redis` in one Redis every replica shares,
 * changed by Lua scripts so that each step is atomic across replicas.
 *
 * Keys are opaque strings the caller builds (the lockout folds accounts, masks IPv6 clients);
 * times are Unix milliseconds from the caller's clock. A store that cannot answer throws
 * StoreUnavailableError (never anything else for a connection problem), within its timeout.
 */
export interface Store {
  /** `memory` or `redis`. */
  readonly type: 'memory' | 'redis';
  /**
   * Whether other processes change this state: an attempt waiting for a check in flight to
   * settle must ask again from time to time, since the check may settle in another replica.
   */
  readonly shared: boolean;
  /** The lockout's counts. */
  readonly lockout: LockoutStore;
  /**
   * Marks `id` in `namespace` until `expiresAtMs`; false when it was marked already (the mark is
   * single-use: exactly one caller across replicas gets true).
   */
  mark(namespace: string, id: string, expiresAtMs: number, nowMs: number): Promise<boolean>;
  /** Whether `id` is marked in `namespace` (and not expired). */
  marked(namespace: string, id: string, nowMs: number): Promise<boolean>;
  /** Resolves when the store answers (readiness); throws StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  /** Why the store cannot answer right now, or undefined while it can (from the last operations). */
  problem(): string | undefined;
  close(): Promise<void>;
}

/** The lockout policy as the store needs it, in seconds (see `lockout:`). */
export interface LimitPolicy {
  readonly max_failures: number;
  readonly backoff: number;
  readonly max_backoff: number;
  readonly forget_after: number;
  readonly account_max_failures: number;
  readonly remember_success: number;
}

/** A reserved password check, given back with `release`. */
export interface Reservation {
  readonly key: string;
  readonly account: string;
  /** Tells this reservation apart from the pair's others (the store's own token). */
  readonly id: string;
}

/**
 * The outcome of `reserve`: a reservation; `refused` with the seconds to wait (locked, or the
 * account past its cap); or `pair`/`account`: that limit has no room while checks are in
 * flight, ask again once one settles.
 */
export type ReserveOutcome = Reservation | { readonly refused: number } | 'pair' | 'account';

/**
 * The lockout's state (src/guard/lockout.ts holds the policy's logic around it: waiting in
 * line, the order of checks). `pair` is the (account, client) key, `account` the account's.
 */
export interface LockoutStore {
  /** Seconds the pair must wait (0: it may try); checks in flight are not looked at. */
  blocked(pair: string, account: string, policy: LimitPolicy, nowMs: number): Promise<number>;
  /** `blocked`, answered at once, by a store that never waits (memory). */
  blockedNow?(pair: string, account: string, policy: LimitPolicy, nowMs: number): number;
  /**
   * Reserves one password check, atomically: refused while the pair is locked or the account
   * past `account_max_failures` (unless the pair logged in recently); no room while as many
   * checks of the pair are in flight as failures are left before the lock (one once locked
   * before), or as the account has failures left.
   */
  reserve(pair: string, account: string, policy: LimitPolicy, nowMs: number): Promise<ReserveOutcome>;
  /** Gives a reservation back. */
  release(reservation: Reservation): Promise<void>;
  /**
   * Counts a failure of the pair and of the account; true when it locked the pair. Every account
   * alike: what is kept, and for how long, must not tell a real account from a made-up name.
   */
  failure(pair: string, account: string, policy: LimitPolicy, nowMs: number): Promise<boolean>;
  /**
   * Forgets the pair's failures and exempts it from the account cap for `remember_success`, unless
   * the pair is locked: then nothing changes, and the answer is the seconds it stays locked (0
   * when the success was recorded). One step, so that a lock set through another replica just
   * before is never cleared by a login that passed its check before it.
   */
  success(pair: string, account: string, policy: LimitPolicy, nowMs: number): Promise<number>;
  /**
   * A shared store's news of locks: a number that changes whenever any replica may have locked a
   * pair since it was last read, or undefined while no such news can be heard (the store's
   * connection for it is down). The lockout trusts a login it let in moments ago, without a
   * round trip, only while this number stays what it was before that login's lock check.
   */
  lockNews?(): number | undefined;
  /** Pairs remembered (memory only: the bound of `max_entries`), else undefined. */
  readonly size: number | undefined;
}

/** The store could not answer in time (Redis down, slow or refusing): the `on_store_error` policy applies. */
export class StoreUnavailableError extends RegauthError {
  readonly retryAfterSeconds: number;
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORE_UNAVAILABLE', `store: ${message}`, options);
    this.retryAfterSeconds = STORE_RETRY_AFTER_SECONDS;
  }
}

/** Retry-After of a login refused because the store cannot answer. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/** How long a reservation holds without being released (a replica that died mid-check). */
export const RESERVATION_LEASE_MS = 60_000;

/** Seconds of the lock set by the `failures`-th failure (at least `max_failures`). */
export function lockSeconds(policy: LimitPolicy, failures: number): number {
  const over = Math.max(0, failures - policy.max_failures);
  return Math.min(policy.max_backoff, policy.backoff * 2 ** Math.min(over, 40));
}
