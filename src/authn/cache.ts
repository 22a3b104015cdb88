import { createHash, hash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { StaticUser } from './users.js';
import { isAccountName } from '../core/account-name.js';
import type { Secret } from '../core/secret.js';
import type { Authenticator, AuthnResult, Credentials } from './types.js';

/** A backend's success, as it answered. */
type Success = Extract<AuthnResult, { outcome: 'authenticated' }>;

/** What a cached success keeps: the backend's answer, never the password. */
interface Entry {
  readonly result: Success;
  /** Unix milliseconds. */
  readonly expiresAt: number;
}

export interface CredentialCacheOptions {
  /** How long a successful verification is remembered, in milliseconds. */
  readonly ttlMs: number;
  /** The most entries kept; the least recently used go first. */
  readonly maxEntries: number;
  /** Unix milliseconds (injectable for tests). */
  readonly now?: () => number;
}

/**
 * Successful password verifications (bcrypt, LDAP bind, app password), remembered for a short
 * time so a `docker push`, which asks for several tokens with the same credentials, pays for one
 * verification. Entries are keyed by a SHA-256 of (backend, entry version, account, password)
 * keyed with a random value made per process: nothing kept can give the password back, and a
 * key made with another password, account or entry version never matches. Bounded (LRU).
 * Failures are never stored.
 */
export class CredentialCache {
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** 256 random bits, as hex (the key is the prefix of every hashed input). */
  readonly #hashKey = randomBytes(32).toString('hex');
  readonly #entries: LRUCache<string, Entry>;
  readonly #now: () => number;

  constructor(options: CredentialCacheOptions) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
    this.#now = options.now ?? Date.now;
    this.#entries = new LRUCache({ max: options.maxEntries });
  }

  /** How many entries are held (expired ones included until they are looked up or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The cache key of one credential: SHA-256 over the process's random key and the parts, each
   * length-prefixed so none can bleed into another. A keyed hash is enough here (the digests never
   * leave the process, so length extension gives an attacker nothing), and node's one-shot
   * `crypto.hash` costs a sixth of an `Hmac` object on the token path.
   */
  key(parts: readonly string[]): string {
    let input = this.#hashKey;
    for (const part of parts) input += `${part.length}:${part}`;
    return hash('sha256', input, 'base64url');
  }

  get(key: string): Success | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.result;
  }

  /** Remembers a success for `ttlMs`, or until the credential itself expires (`result.expiresAt`) if sooner. */
  set(key: string, result: Success): void {
    const ttlEnd = this.#now() + this.ttlMs;
    const expiresAt = result.expiresAt === undefined ? ttlEnd : Math.min(ttlEnd, result.expiresAt * 1000);
    this.#entries.set(key, { result, expiresAt });
  }

  clear(): void {
    this.#entries.clear();
  }
}

/**
 * Tells the cache which version of an account's entry answered: a different version (the user's
 * hash or labels changed on reload) makes a different key, so the old success is never used.
 * `undefined` means the account has no entry there.
 */
export type EntryVersion = (account: string) => string | undefined;

/**
 * Puts a credential cache in front of any authenticator. A hit answers `authenticated` with the
 * labels of the original answer without asking the backend; anything else asks the backend, and
 * an `authenticated` answer is remembered once the chain makes it its own answer
 * (Authenticator.remember). Requests without a password are passed through.
 */
export class CachedAuthenticator implements Authenticator {
  readonly name: string;
  readonly inner: Authenticator;
  readonly #cache: CredentialCache;
  readonly #version: EntryVersion;

  constructor(inner: Authenticator, cache: CredentialCache, version: EntryVersion) {
    this.name = inner.name;
    this.inner = inner;
    this.#cache = cache;
    this.#version = version;
    if (inner.lookup) this.lookup = inner.lookup.bind(inner);
    if (inner.check) this.check = inner.check.bind(inner);
    if (inner.close) this.close = inner.close.bind(inner);
    if (inner.decoy) this.decoy = inner.decoy.bind(inner);
    if (inner.claims) this.claims = inner.claims.bind(inner);
    if (inner.labelsInRefreshToken) this.labelsInRefreshToken = true;
  }

  readonly labelsInRefreshToken?: boolean;

  readonly lookup?: Authenticator['lookup'];
  readonly check?: Authenticator['check'];
  readonly close?: Authenticator['close'];
  readonly decoy?: Authenticator['decoy'];
  readonly claims?: Authenticator['claims'];

  /**
   * Successes asked for and not yet the chain's answer, by the request's password (one Secret per
   * request): {@link remember} keeps one, and whatever is not kept is collected with its request.
   */
  readonly #pending = new WeakMap<Secret, { readonly key: string; readonly result: Success }>();

  /** Authenticator.remember: keeps the success this request's credentials got here. */
  remember({ password }: Credentials): void {
    if (password === undefined) return;
    const pending = this.#pending.get(password);
    if (pending === undefined) return;
    this.#pending.delete(password);
    this.#cache.set(pending.key, pending.result);
  }

  /**
   * Whether a live success for exactly these credentials is remembered (nothing is asked). The
   * login queue asks it before the chain authenticates: the key is kept for `authenticate`.
   */
  holds(credentials: Credentials): boolean {
    return this.#remembered(credentials, true) !== undefined;
  }

  /**
   * Authenticator.answerNow: the live success remembered for exactly these credentials. Never one
   * under a stored spelling the name rule refuses (`authenticate` keeps none), so the chain can
   * answer with it as it stands. The key is not kept: an answer ends the request's
   * authentication, and a request it cannot answer goes on to `holds` and `authenticate`, which
   * keep theirs (a WeakMap entry per cached login was 1 % of the event loop under load).
   */
  answerNow(credentials: Credentials): Success | undefined {
    return this.#remembered(credentials, false);
  }

  #remembered({ account, password, uncached }: Credentials, keep: boolean): Success | undefined {
    return password === undefined || uncached === true
      ? undefined
      : this.#cache.get(this.#key(account, password, keep));
  }

  /**
   * The key of a request's credentials, remembered by its password when `keep`: the login queue
   * asks `holds` before the chain authenticates, and one keyed hash per request is enough.
   */
  #key(account: string, password: Secret, keep = true): string {
    const version = this.#version(account) ?? '';
    const known = this.#keys.get(password);
    if (known?.account === account && known.version === version) return known.key;
    const key = this.#cache.key([this.name, version, account, password.reveal()]);
    if (keep) this.#keys.set(password, { account, version, key });
    return key;
  }

  readonly #keys = new WeakMap<Secret, { account: string; version: string; key: string }>();

  async authenticate(credentials: Credentials): Promise<AuthnResult> {
    const { account, password } = credentials;
    if (password === undefined) return this.inner.authenticate(credentials);
    const key = this.#key(account, password);
    const hit = credentials.uncached === true ? undefined : this.#cache.get(key);
    if (hit) return { ...hit, fromCache: true };
    const result = await this.inner.authenticate(credentials);
    // Held back until the chain answers with it (remember), and never a success the chain refuses
    // whatever else answers (a stored spelling the name rule refuses, src/authn/chain.ts).
    const usable =
      result.outcome === 'authenticated' && (result.account === undefined || isAccountName(result.account));
    if (usable) this.#pending.set(password, { key, result });
    return result;
  }
}

/**
 * The entry version of static users (`users:`, `users_file:`): a digest of the stored hash and
 * labels, so changing either on reload drops the account's cached successes while the others stay.
 */
export function staticEntryVersion(users: ReadonlyMap<string, StaticUser>): EntryVersion {
  // Computed once per account: the users map is frozen for the runtime's life.
  const versions = new Map<string, string>();
  return (account) => {
    let version = versions.get(account);
    if (version === undefined) {
      const user = users.get(account);
      if (!user) return undefined;
      version = createHash('sha256')
        .update(JSON.stringify([user.passwordHash ?? null, user.labels]))
        .digest('base64url');
      versions.set(account, version);
    }
    return version;
  };
}

let shared: CredentialCache | undefined;

/**
 * The process's credential cache, shared by every runtime so a reload keeps the successes of
 * unchanged accounts. A new cache replaces it when the settings change. `ttlMs` 0 disables it.
 */
export function sharedCredentialCache(options: CredentialCacheOptions): CredentialCache | undefined {
  if (options.ttlMs <= 0) return undefined;
  if (!shared || shared.ttlMs !== options.ttlMs || shared.maxEntries !== options.maxEntries) {
    shared = new CredentialCache(options);
  }
  return shared;
}
