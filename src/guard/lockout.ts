import { hash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { LockoutConfig } from './config.js';
import { Secret } from '../core/secret.js';
import {
  BackendUnavailableError,
  RegauthError,
  TooManyRequestsError,
  UnauthorizedError,
  WithheldDenialError,
} from '../core/errors.js';
import { foldAccountName, foldsOtherwise } from '../core/account-name.js';
import { clientKey } from '../core/ip.js';
import { MemoryLockoutStore } from '../store/memory.js';
import {
  StoreUnavailableError,
  type LockoutStore,
  type Reservation,
  type ReserveOutcome,
} from '../store/types.js';

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

/**
 * Brute-force protection that cannot be turned against users: failures are counted per
 * (account, client address), so an attacker elsewhere cannot slow the account's owner down.
 * The `max_failures`-th failure locks the pair for `backoff` seconds and each further one for
 * twice as long as the last (capped at `max_backoff`); a success forgets the pair; so does
 * `forget_after` seconds without a failure. An attempt is reserved before its password is
 * checked, so concurrent attempts cannot outrun the count.
 *
 * The counts live in a store (src/store/): this process's memory, bounded, with what overflows
 * kept in a sketch that never counts less (MemoryLockoutStore), or a Redis every replica shares, so that the
 * limits hold for the service however many replicas serve it. Accounts are compared the way directories compare them (case, surrounding and repeated
 * spaces, Unicode compatibility forms ignored), so `ALICE ` shares alice's count. An IPv6 client
 * is its network of `ipv6_prefix` bits (a /64), not one of its countless addresses.
 *
 * Against guessing from many addresses, an account's failures from all clients together are
 * counted too, in windows of `forget_after` seconds: past `account_max_failures` in a window,
 * clients get 429 for that account until the window ends, except clients that logged in to it
 * within `remember_success` seconds: nobody can lock a user out from where they log in.
 *
 * The state outlives config reloads (it belongs to the process or the shared store); the policy
 * is read per call, so a reloaded `lockout:` applies at once, except `max_entries`, which is
 * fixed at start.
 */
export class Lockout {
  readonly #store: LockoutStore;
  /** Whether checks in flight may settle in another process (a shared store): waiters ask again every POLL_MS. */
  readonly #shared: boolean;
  /** Attempts waiting for a check in flight to settle: a line per pair (`p` + key) and per account (`a` + key). */
  readonly #waiters = new Map<string, (() => void)[]>();
  readonly #policy: () => LockoutPolicy;
  readonly #onStoreError: () => 'fail_closed' | 'fail_open';
  readonly #now: () => number;
  /**
   * Shared store only: (pair, password) digests that passed the lockout and logged in here within
   * PASSED_TTL_MS, so the requests of one `docker push` that follow cost no store round trip;
   * each with the store's news of locks from before its lock check (see `lockNews`).
   */
  readonly #passed = new LRUCache<string, number>({ max: 10_000, ttl: PASSED_TTL_MS });
  /** 256 random bits, as hex: the key of the digests in #passed (made per process). */
  readonly #passedKey = randomBytes(32).toString('hex');
  /**
   * Clients that logged in here, by folded account: the latest #knownPerAccount clients of each
   * to log in with their password checked (a login answered from the credential cache keeps a
   * client here, and makes none), for `remember_success` since the account's last new one;
   * `max_entries` clients in all, least recently used accounts first out. Clients that showed
   * they hold the account's password (`knownClient`). While the table has room, one account
   * fills no more than its own share; once it is full, a new client pushes out the least
   * recently used accounts' clients.
   */
  readonly #loggedIn: LRUCache<string, Map<string, number>>;
  /**
   * The last stamp given in #loggedIn: a known client's is positive, an ended one's negative
   * (kept, so that a login in flight can tell its standing ended meanwhile).
   */
  #stamps = 0;
  /** A sixteenth of the table: it takes 16 accounts to push another account's clients out. */
  readonly #knownPerAccount: number;

  constructor(options: {
    /** The state: a store of this process (the default, `max_entries` pairs per table) or one shared by replicas. */
    store?: LockoutStore;
    shared?: boolean;
    maxEntries?: number;
    policy: () => LockoutPolicy;
    /** `store.on_store_error` (default fail_closed). */
    onStoreError?: () => 'fail_closed' | 'fail_open';
    now?: () => number;
  }) {
    this.#policy = options.policy;
    this.#now = options.now ?? Date.now;
    this.#store = options.store ?? new MemoryLockoutStore(options.maxEntries ?? 10_000);
    const max = options.maxEntries ?? 10_000;
    this.#loggedIn = new LRUCache({ maxSize: max, sizeCalculation: (clients) => Math.max(1, clients.size) });
    this.#knownPerAccount = Math.max(1, Math.floor(max / 16));
    this.#shared = options.shared ?? false;
    this.#onStoreError = options.onStoreError ?? (() => 'fail_closed');
  }

  /**
   * Whether this pair logged in here with this very password within PASSED_TTL_MS, and no pair
   * was locked anywhere since its lock check (a shared store that tells its locks only; always
   * false with the memory store, whose checks cost nothing). Such a login needs no store round
   * trip: the lock check was passed moments ago with this password. A lock set since, by any
   * replica and for any pair (another client behind the same address may have locked this one),
   * ends that: the store's news of locks has moved on, and the next login asks the store. A
   * first right guess is never remembered before it has passed the lock check.
   */
  passedRecently(account: string, ip: string | null, password: unknown): boolean {
    const news = this.lockNews();
    if (news === undefined) return false;
    const key = this.#digest(account, ip, password);
    return key !== undefined && this.#passed.get(key) === news;
  }

  /**
   * The shared store's news of locks now (LockoutStore.lockNews): read before an attempt's lock
   * check, and given to `passed` once it has logged in. Undefined without such news (the memory
   * store, or a shared store not listening now): nothing is remembered then.
   */
  lockNews(): number | undefined {
    return this.#shared ? this.#store.lockNews?.() : undefined;
  }

  /**
   * Remembers that this pair logged in with this password past the lock check, which began when
   * the store's news of locks stood at `news` (shared store only).
   */
  passed(account: string, ip: string | null, password: unknown, news: number | undefined): void {
    if (news === undefined) return;
    const key = this.#digest(account, ip, password);
    // Never longer than the pair's exemption from the account cap, which the store's check reads.
    const ttl = Math.min(PASSED_TTL_MS, this.#policy().remember_success * 1000);
    if (key !== undefined) this.#passed.set(key, news, { ttl });
  }

  #digest(account: string, ip: string | null, password: unknown): string | undefined {
    const text =
      password instanceof Secret ? password.reveal() : typeof password === 'string' ? password : undefined;
    if (text === undefined) return undefined;
    const { pair } = keys(account, ip, this.#policy());
    // A keyed SHA-256 as the credential cache makes it (src/authn/cache.ts): the digests never
    // leave the process, and the one-shot hash costs a fraction of an Hmac object on the
    // cached path, which asks this on every request.
    return hash('sha256', `${this.#passedKey}${pair.length}:${pair}${text}`, 'base64url');
  }

  /**
   * A login of the pair that the credential cache does not answer (another password: a guess, a
   * typo, a changed password): the pair is no longer a known client (`knownClient`) until it logs
   * in again. Ended before anything is answered, so that a guesser behind the owner's address (a
   * NAT) never finds the cache answering the right password while its wrong ones are refused
   * before a check (the login queue full, the store or a backend down), however many it sends at
   * once; a cached login of the pair already in flight does not give the standing back
   * (`loggedInHere`). No entry is made for a pair that was not known, so no number of such logins
   * pushes anything out.
   */
  endStanding(account: string, ip: string | null): void {
    const { account: a, client } = keys(account, ip, this.#policy());
    const clients = this.#loggedIn.get(a);
    if ((clients?.get(client) ?? 0) > 0) clients!.set(client, -++this.#stamps);
  }

  /**
   * The pair logged in here, its answer not withheld: a known client from now on (`knownClient`).
   * `since`: the standing a login answered from the credential cache had when it arrived
   * (`standing`); such a login keeps a standing it still finds, and gives back none that was
   * ended or pushed out meanwhile (`endStanding`): only a login whose password was checked does.
   * Known already (the usual case), it costs a lookup.
   */
  loggedInHere(account: string, ip: string | null, since?: number): void {
    const policy = this.#policy();
    const { account: a, client } = keys(account, ip, policy);
    const clients = this.#loggedIn.get(a);
    const stamp = clients?.get(client);
    if (stamp !== undefined && stamp > 0) {
      // The latest to log in: last out of the account's share (the only client is so already;
      // deleting it would make V8 shrink the Map's table, and the set grow it again).
      if (clients!.size > 1) clients!.delete(client);
      clients!.set(client, stamp);
      return;
    }
    // A cached login keeps a standing; it never gives one back, whether it was ended meanwhile or
    // its entry is gone (pushed out, or keyed otherwise since a reload).
    if (since !== undefined) return;
    // A new map, so that the table measures the account's share again (lru-cache sizes an entry
    // when its value changes).
    const next = new Map(clients);
    next.delete(client);
    next.set(client, ++this.#stamps);
    if (next.size > this.#knownPerAccount) next.delete(next.keys().next().value!);
    this.#loggedIn.set(a, next, { ttl: policy.remember_success * 1000 });
  }

  /**
   * The pair's standing as a known client (`knownClient`): a number that changes whenever it is
   * ended or given again, or undefined while it is not one.
   */
  standing(account: string, ip: string | null): number | undefined {
    const { account: a, client } = keys(account, ip, this.#policy());
    const stamp = this.#loggedIn.get(a)?.get(client);
    return stamp !== undefined && stamp > 0 ? stamp : undefined;
  }

  /**
   * Whether the pair logged in here (within `remember_success` of its account's last new client,
   * among its latest #knownPerAccount) and sent no password the credential cache did not answer
   * since (`endStanding`): a client that showed it holds the account's password, whom the cache
   * may answer (src/http/token.ts issueGuarded).
   */
  knownClient(account: string, ip: string | null): boolean {
    return this.standing(account, ip) !== undefined;
  }

  /** What a login that needs the store gets while it cannot answer. */
  get onStoreError(): 'fail_closed' | 'fail_open' {
    return this.#onStoreError();
  }

  /** Throws TooManyRequestsError (with the seconds to wait) while the pair is locked. */
  async check(account: string, ip: string | null): Promise<void> {
    const wait = await this.blocked(account, ip);
    if (wait > 0) throw new TooManyRequestsError(wait);
  }

  /**
   * Seconds the pair must wait (0: it may try): while the pair is locked, or while the account
   * is past `account_max_failures` and this client has no recent success for it. Checks in
   * flight are not looked at (see `reserve`).
   */
  blocked(account: string, ip: string | null): Promise<number> {
    const policy = this.#policy();
    if (!policy.enabled) return Promise.resolve(0);
    const { pair: k, account: a } = keys(account, ip, policy);
    return this.#store.blocked(k, a, policy, this.#now());
  }

  /**
   * `blocked`, answered at once when the store can (the memory store); undefined when only its
   * promise can tell.
   */
  blockedNow(account: string, ip: string | null): number | undefined {
    const policy = this.#policy();
    if (!policy.enabled) return 0;
    if (this.#store.blockedNow === undefined) return undefined;
    const { pair: k, account: a } = keys(account, ip, policy);
    return this.#store.blockedNow(k, a, policy, this.#now());
  }

  /**
   * Reserves one password check for the pair before it is made. Refused (TooManyRequestsError)
   * while the pair is locked, or while the account is past `account_max_failures` and this
   * client has no recent success for it. While as many checks are in flight as failures are
   * left before the lock (one at a time once the pair has reached `max_failures`), or as the
   * account has failures left, the attempt waits in line for one of them to settle, then asks
   * again: so however many requests arrive at once, at most `max_failures` passwords of a pair
   * (and `account_max_failures` of an account) are checked before the lock, and a burst of
   * logins with the right password is served a few at a time instead of being refused. With a
   * shared store the checks in flight of every replica count, and a waiter also asks again
   * every POLL_MS (a check may settle in another replica). A wait longer than MAX_WAIT_MS, or
   * behind MAX_WAITING others, is refused. The reservation is given back by `release` once the
   * attempt is settled (`failure`/`success` first). Undefined when the lockout is disabled.
   * Throws StoreUnavailableError when the store cannot answer.
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
      let verdict: ReserveOutcome;
      try {
        verdict = await this.#store.reserve(k.pair, k.account, policy, this.#now());
      } catch (err) {
        this.#wakeNext(lines.pair);
        this.#wakeNext(lines.account);
        throw err;
      }
      if (typeof verdict === 'object' && 'refused' in verdict) {
        // The next ones waiting are likely refused too: let them find out now, not at their deadline.
        this.#wakeNext(lines.pair);
        this.#wakeNext(lines.account);
        throw new TooManyRequestsError(verdict.refused);
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
      await this.#settled(line, this.#shared ? Math.min(left, POLL_MS) : left, woken === line);
      woken = line;
    }
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

  /**
   * Gives a reservation back (after its attempt was counted as a failure or a success, or not
   * at all). Never throws: a reservation the store cannot take back expires after its lease.
   */
  async release(reservation: Reservation | undefined): Promise<void> {
    if (!reservation) return;
    try {
      await this.#store.release(reservation);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
    } finally {
      this.#wakeNext(`p${reservation.key}`);
      this.#wakeNext(`a${reservation.account}`);
    }
  }

  /**
   * Counts a failed attempt; returns true when it locked the pair (for the lockout metric). Every
   * account is counted alike, whether a backend vouched for it or not: how a count is kept must
   * not tell which names exist.
   */
  async failure(account: string, ip: string | null): Promise<boolean> {
    const policy = this.#policy();
    if (!policy.enabled) return false;
    const { pair: k, account: a } = keys(account, ip, policy);
    const locked = await this.#store.failure(k, a, policy, this.#now());
    // A shared store's news of this lock comes on another connection, maybe after this answer:
    // what this replica remembers ends now, as any lock's news ends it (passedRecently).
    if (locked) this.#passed.clear();
    return locked;
  }

  /**
   * A successful login forgets the pair's failures, and exempts the pair from the account cap
   * for `remember_success` seconds. (The account's count stays: others may still be guessing.)
   */
  success(account: string, ip: string | null): Promise<number> {
    const policy = this.#policy();
    if (!policy.enabled) return Promise.resolve(0);
    const { pair: k, account: a } = keys(account, ip, policy);
    return this.#store.success(k, a, policy, this.#now());
  }

  /** How many pairs are remembered (memory store: for tests and the memory bound; else 0). */
  get size(): number {
    return this.#store.size ?? 0;
  }
}

/** The longest an attempt waits for checks in flight to settle before it is refused. */
const MAX_WAIT_MS = 10_000;
/** How many attempts of one pair may wait at once; more are refused at once. */
const MAX_WAITING = 1000;

/** How long a login that passed the lockout is remembered by its replica (shared store only). */
const PASSED_TTL_MS = 5_000;

/** How often an attempt waiting on a shared store asks again (a check may settle in another replica). */
const POLL_MS = 50;

export type { Reservation };

/**
 * The map keys of the account and of the pair. The account is folded the way directories compare
 * names (LDAP matches `ALICE` and ` alice` to alice), so no spelling gets a count of its own;
 * the client is its address, or its network for IPv6; the length prefix keeps "a" + "b:c" apart
 * from "a:b" + "c".
 */
function keys(account: string, ip: string | null, policy: LockoutPolicy): Keys {
  // A login asks for its keys several times (its standing, the lock, the success), and a CI
  // account logs in from the same address over and over: each is worked out once (an IPv6
  // client's network costs microseconds).
  const id = `${policy.ipv6_prefix}/${ip ?? '-'}/${account}`;
  let found = recentKeys.get(id);
  if (found === undefined) {
    const folded = foldAccountName(account);
    const client = clientKey(ip, policy.ipv6_prefix);
    found = { pair: `${folded.length}:${folded}${client}`, account: folded, client };
    if (recentKeys.size >= KEYS_KEPT) recentKeys.clear();
    recentKeys.set(id, found);
  }
  return found;
}

interface Keys {
  readonly pair: string;
  readonly account: string;
  readonly client: string;
}
const recentKeys = new Map<string, Keys>();
const KEYS_KEPT = 1024;

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
 * Requests without a password (anonymous, refresh tokens) are not password guesses: they pass,
 * and so do passwords nobody can guess (`unguessable`: a CI token a backend claims; a forged one
 * is refused by its signature check, however many are tried).
 * A login the credential cache holds waits for no check in flight, but is refused while locked.
 *
 * When the store cannot answer (StoreUnavailableError): a login that needs a password checked
 * gets 503 with Retry-After under `on_store_error: fail_closed`, or is checked without the limits
 * under `fail_open`; a login the credential cache holds (for a known client only:
 * src/http/token.ts issueGuarded) is served either way.
 */
export async function withLockout<T extends { readonly account: string }>(
  lockout: Lockout | undefined,
  attempt: LoginAttempt & {
    /** Whether the credential cache holds this very account and password (a recent success). */
    readonly cached?: () => boolean;
    /** Whether the password is one nobody can guess (a signed CI token a backend claims). */
    readonly unguessable?: () => boolean;
  },
  /**
   * The login. `heldBack` (given where the lockout guards it) says how long an account a backend
   * holds under another spelling is held back for this client (Credentials.heldBack).
   */
  run: (heldBack?: (stored: string) => Promise<number>) => Promise<T>,
  onLocked?: () => void,
): Promise<T> {
  // A signed token is not guessed: its issuer's signature protects it, and counting it would let
  // anyone hold a CI account back from fresh runner addresses with forged tokens.
  if (!lockout || attempt.password === undefined || attempt.unguessable?.() === true) return run();
  const { account: typed, ip } = attempt;
  // A login the credential cache holds for a known client is the right password, not a guess:
  // it waits for no check in flight (a docker push's many token requests), though a lock still
  // holds it back; while the store cannot answer it is served all the same (no password is
  // checked, so no guess is made).
  let reservation: Reservation | undefined;
  /** The store could not answer and the attempt went on without it: it goes uncounted. */
  let uncounted = false;
  const cached = attempt.cached?.() === true;
  // The standing the cache answers on, as it is now (Lockout.loggedInHere).
  const since = cached ? lockout.standing(typed, ip) : undefined;
  // Read before the lock check: a lock told while it runs is news to the next login.
  const news = lockout.lockNews();
  // With a shared store, the same pair and password that logged in here moments ago costs no
  // round trip (a push's several token requests).
  if (cached && lockout.passedRecently(typed, ip, attempt.password)) return run();
  if (cached) {
    try {
      await lockout.check(typed, ip);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      uncounted = true;
    }
  } else {
    try {
      reservation = await lockout.reserve(typed, ip);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || lockout.onStoreError === 'fail_closed') throw err;
      uncounted = true;
    }
  }
  const state: AttemptState = { cached, uncounted, news, ...(since !== undefined ? { since } : {}) };
  try {
    const result = await run((stored) => lockOf(lockout, stored, ip, state));
    // A password checked while another spelling of the account (a directory's alias, which has
    // its own slots) locked it: its answer is withheld (429), so no more are told than the lock
    // allows; and counted as a wrong one there is, or the next wait would tell it was right.
    const wait = reservation ? await lockOf(lockout, typed, ip, state) : 0;
    if (wait > 0) {
      if (await counted(state, () => lockout.failure(typed, ip), false)) onLocked?.();
      throw new TooManyRequestsError(wait);
    }
    return await loggedIn(lockout, attempt, result, state);
  } catch (err) {
    // A refused password is a failure, also when it is answered as a later backend's outage
    // (WithheldDenialError, src/authn/chain.ts: a made-up name meets that outage), or it would be
    // a free guess. An outage itself is not: it may be anyone's, a right password's too, and
    // others can cause it (a flood of the command's slots), which must never lock a user out.
    if (
      err instanceof WithheldDenialError ||
      (err instanceof RegauthError && (err.code === 'ERR_UNAUTHORIZED' || err.code === 'ERR_INVALID_GRANT'))
    ) {
      const decision =
        err instanceof UnauthorizedError || err instanceof WithheldDenialError ? err.decision : undefined;
      const stored = decision?.account;
      if (stored !== undefined && foldsOtherwise(typed, stored)) {
        // The stored spelling's lock is read as the check ended: a lock another spelling set
        // while the password was checked withholds this answer too. Then both spellings' failures
        // are counted. A backend that read the lock before its check (`heldFor`, LDAP for an
        // alias) had it sent with the failures, the read first, so that the store round trips
        // stay two, as a made-up spelling's read and failure cost, or the time would tell which
        // spellings a backend holds; a check it held back (`heldFor` > 0) is answered so.
        const heldFor = decision?.heldFor;
        const countBoth = () =>
          Promise.all([
            counted(state, () => lockout.failure(stored, ip), false),
            counted(state, () => lockout.failure(typed, ip), false),
          ]);
        let wait: number;
        let locked: boolean[];
        if (heldFor === undefined) {
          wait = await lockOf(lockout, stored, ip, state);
          locked = await countBoth();
        } else if (heldFor > 0) {
          wait = heldFor;
          locked = await countBoth();
        } else {
          [wait, locked] = await Promise.all([lockOf(lockout, stored, ip, state), countBoth()]);
          // Locked while the password was checked: a right password found that by a read of its
          // own after the check (src/authn/chain.ts), then counted; this answer waits as long.
          if (wait > 0) await lockOf(lockout, stored, ip, state);
        }
        // Either pair locking is one lockout, as a made-up spelling's pair locking is.
        if (locked[0] || locked[1]) onLocked?.();
        if (wait > 0) throw new TooManyRequestsError(wait);
      } else {
        const wait = reservation ? await lockOf(lockout, typed, ip, state) : 0;
        if (await counted(state, () => lockout.failure(typed, ip), false)) onLocked?.();
        if (wait > 0) throw new TooManyRequestsError(wait);
      }
    } else if (err instanceof BackendUnavailableError && reservation) {
      // Not counted, but the store is asked as often as for a withheld denial (a read in place of
      // the failure): with a shared store, those round trips would tell a known name's refused
      // password from a made-up name's outage on the first try.
      const wait = await lockOf(lockout, typed, ip, state);
      await counted(state, () => lockout.blocked(typed, ip), 0);
      if (wait > 0) throw new TooManyRequestsError(wait);
    }
    throw err;
  } finally {
    // Once the store has failed this attempt, its answer is not waited for a second time: the
    // release is sent (a reservation it cannot take back expires with its lease), and a Redis
    // gone quiet costs the login one store.timeout_ms, not two.
    if (reservation && state.down === true) void lockout.release(reservation).catch(() => undefined);
    else if (reservation) await lockout.release(reservation);
  }
}

/**
 * withLockout for a login the credential cache holds, decided without a promise of its own when
 * the store answers at once: the memory store, or a shared store this pair passed with this
 * password moments ago (`passedRecently`). `run` answers the login without checking a password,
 * or gives undefined when it cannot answer at once after all. Undefined, with nothing done, when
 * the store cannot answer at once, while the pair is held back (withLockout then answers, with
 * its 429), or when `run` gave undefined. Otherwise it is what withLockout does for such a
 * login: the success forgets the pair's failures once `run` has answered.
 */
export function withLockoutNow<T extends { readonly account: string }>(
  lockout: Lockout | undefined,
  attempt: LoginAttempt,
  run: () => Promise<T> | undefined,
): Promise<T> | undefined {
  if (!lockout || attempt.password === undefined) return run();
  const { account: typed, ip } = attempt;
  if (lockout.passedRecently(typed, ip, attempt.password)) return run();
  if (lockout.blockedNow(typed, ip) !== 0) return undefined;
  const since = lockout.standing(typed, ip);
  return run()?.then((result) =>
    loggedIn(lockout, attempt, result, since === undefined ? CACHED : { ...CACHED, since }),
  );
}

/** Who logs in, with what password, from where. */
interface LoginAttempt {
  readonly account: string;
  readonly password: unknown;
  readonly ip: string | null;
}

/** How withLockout stands with the store for one attempt. */
interface AttemptState {
  /** The credential cache holds the login: no password is checked. */
  readonly cached: boolean;
  /** The store could not answer and the attempt went on without it: nothing is counted. */
  readonly uncounted: boolean;
  /** The store's news of locks before the lock check (Lockout.lockNews). */
  readonly news: number | undefined;
  /** A cached login's standing when it arrived (Lockout.standing). */
  readonly since?: number;
  /**
   * The store failed this attempt's lock read or a count after the password was checked (lockOf,
   * counted): nothing more is asked of it that the answer would wait for (its release is sent
   * unwaited), so an outage beginning meanwhile fails the same operations, and as many, whatever
   * the login named, and costs the login one store.timeout_ms (regauth_store_errors_total is on
   * /metrics).
   */
  down?: boolean;
}

/**
 * withLockoutNow's attempts: only the memory store answers at once, and it has no news (nor
 * outages: frozen, so that one would be loud).
 */
const CACHED: AttemptState = Object.freeze({ cached: true, uncounted: false, news: undefined });

/**
 * After a login that succeeded: while another spelling it is stored under is held back for this
 * client, 429 (the answer is withheld); else the success forgets the failures of both spellings.
 */
async function loggedIn<T extends { readonly account: string }>(
  lockout: Lockout,
  attempt: LoginAttempt,
  result: T,
  state: AttemptState,
): Promise<T> {
  const { account: typed, ip } = attempt;
  if (foldsOtherwise(typed, result.account)) {
    const wait = await lockOf(lockout, result.account, ip, state);
    if (wait > 0) throw new TooManyRequestsError(wait);
    const held = await counted(state, () => lockout.success(result.account, ip), 0);
    if (held > 0) throw new TooManyRequestsError(held);
  }
  // The store records a success only while the pair is not locked, in one step: a lock set
  // while a cached login's token was signed (guesses from the same address, through any
  // replica) holds, with 429, and the success forgets nothing.
  const held = await counted(state, () => lockout.success(typed, ip), 0);
  if (held > 0) throw new TooManyRequestsError(held);
  lockout.loggedInHere(typed, ip, state.since);
  if (!state.uncounted) lockout.passed(typed, ip, attempt.password, state.news);
  return result;
}

/** A count after the password was checked: one the store cannot take is lost, the answer stands. */
async function counted<R>(state: AttemptState, step: () => Promise<R>, otherwise: R): Promise<R> {
  if (state.uncounted || state.down) return otherwise;
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    state.down = true;
    return otherwise;
  }
}

/**
 * A lock read after the password was checked. Unlike a count, it is not lost when the store
 * cannot answer: under `fail_closed` it fails the login (503), as the reservation would have; a
 * login the credential cache holds is served all the same.
 */
async function lockOf(
  lockout: Lockout,
  account: string,
  ip: string | null,
  state: AttemptState,
): Promise<number> {
  if (state.uncounted || state.down) return 0;
  try {
    return await lockout.blocked(account, ip);
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    state.down = true;
    if (state.cached || lockout.onStoreError === 'fail_open') return 0;
    throw err;
  }
}
