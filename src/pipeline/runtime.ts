import { randomUUID } from 'node:crypto';
import type { Config } from '../config/load.js';
import type { TokenRequest } from '../request/token-request.js';
import { bcryptPoolVerifier } from '../authn/bcrypt-pool.js';
import {
  CachedAuthenticator,
  sharedCredentialCache,
  staticEntryVersion,
  type EntryVersion,
} from '../authn/cache.js';
import { bcryptCost, type PasswordVerifier } from '../authn/password.js';
import { StaticUsersAuthenticator } from '../authn/users.js';
import { JwtAuthenticator } from '../authn/jwt/authenticator.js';
import { AppPasswordAuthenticator } from '../oidc/app-password.js';
import { OidcLogin } from '../oidc/login.js';
import { LdapAuthenticator } from '../authn/ldap/authenticator.js';
import type { LdapClientFactory } from '../authn/ldap/connection.js';
import type { Authenticator, Credentials } from '../authn/types.js';
import { claimant } from '../authn/chain.js';
import { ExtAuthenticator } from '../authn/ext.js';
import { ExtAuthorizer } from '../authz/ext.js';
import type { CommandRunner, CommandSlots } from '../ext/command.js';
import type { Logger } from '../core/log.js';
import type { LoginQueuePolicy } from '../guard/login-queue.js';
import { createTokenSigner, type TokenSigner } from '../token/sign.js';
import { createRefreshTokens, type RefreshTokens } from '../token/refresh.js';
import { RegistryCatalog } from '../catalog/registry.js';

/**
 * Everything a token request needs, built from one Config and never mutated: a reload builds
 * a new Runtime completely and swaps the reference, so a request runs against one config only.
 */
export interface Runtime {
  readonly config: Config;
  /** In the order they are asked: users, users_file, ext_auth, ldap_auth, oidc_auth, jwt_auth. */
  readonly authenticators: readonly Authenticator[];
  readonly verifier: PasswordVerifier;
  /** Signs with the config's key and issuer; the JWS header is encoded once. */
  readonly sign: TokenSigner;
  /** Refresh tokens; undefined when `token.refresh` is absent (disabled). */
  readonly refresh: RefreshTokens | undefined;
  /** Asked for scopes no ACL rule matches (src/authz/chain.ts). */
  readonly extAuthz: ExtAuthorizer | undefined;
  /**
   * Whether a backend runs work per request that a gone client should cancel (`ext_auth`,
   * `ext_authz` commands): only then does the HTTP layer give requests a signal.
   */
  readonly cancellable: boolean;
  /**
   * `login_queue:` as the login queue applies it: with `ext_auth`, at most its `max_per_client`
   * uncached logins per client, whichever backend answers them. That bound must hold before any
   * password is checked: met inside the chain, it refused a made-up name that reached the
   * command (429) but not a static user's wrong password, whose run of the command is a decoy
   * (401), which told the two apart.
   */
  readonly loginQueue: LoginQueuePolicy;
  /**
   * Whether a token request needs a login-queue place: a login whose password no credential
   * cache holds (`cached`, the request's memoised `cached`); with `ext_auth`, every request that
   * may run its command: a login no cache at or before `ext_auth` answers, and an anonymous
   * request no static `""` user answers first. The queue is then the command's one bound per
   * client (RequestContext.enterQueue), so one address holds at most `max_per_client` runs.
   */
  readonly queued: (request: TokenRequest, cached: () => boolean) => boolean;
  /** The browser login (`/oidc/login`, `/oidc/callback`) when `oidc_auth` is set. */
  readonly oidc: OidcLogin | undefined;
  /**
   * Whether the credential cache holds a success for these credentials at some backend: such a
   * login needs no password check, so it skips the login queue (src/guard/login-queue.ts).
   */
  cached(credentials: Credentials): boolean;
  /**
   * Whether a backend claims the credentials as its own (Authenticator.claims: a CI token of a
   * jwt_auth issuer). Such a password is a signature, not a guess: the lockout leaves it alone.
   */
  claimed(credentials: Credentials): boolean;
  /** The registry's full catalog, read and cached for the filtered `/v2/_catalog` when `catalog:` is set. */
  readonly catalog: RegistryCatalog | undefined;
}

export interface RuntimeDeps {
  /** Override the password verifier (tests). Default: bcrypt in the process's worker pool. */
  readonly verifier?: PasswordVerifier;
  /** Runs `ext_auth` / `ext_authz` commands (default: child_process.spawn). */
  readonly runCommand?: CommandRunner;
  /**
   * The counts of `ext_auth`'s and `ext_authz`'s runs, made once per process (startService), so
   * their `max_concurrency` and `max_per_client` hold across reloads. Absent: each runtime counts
   * its own.
   */
  readonly commandSlots?: { readonly ext_auth: CommandSlots; readonly ext_authz: CommandSlots };
  /** Override how LDAP clients are made (unit tests use a fake directory). */
  readonly ldapClient?: LdapClientFactory;
  /** Where ext_auth / ext_authz commands' stderr is logged; not logged when absent. */
  readonly logger?: Logger;
  /** Wraps each authenticator (metrics); the identity when absent. */
  readonly instrument?: (authenticator: Authenticator) => Authenticator;
}

export function createRuntime(config: Config, deps: RuntimeDeps = {}): Runtime {
  const verifier = deps.verifier ?? bcryptPoolVerifier(topCost(config));
  const authenticators: Authenticator[] = [];
  /** Backends whose per-account entries can be versioned; the others use the runtime's generation. */
  const entryVersions = new Map<Authenticator, EntryVersion>();
  if (config.users) {
    const users = new StaticUsersAuthenticator('users', config.users, verifier);
    authenticators.push(users);
    entryVersions.set(users, staticEntryVersion(config.users));
  }
  if (config.users_file) {
    const usersFile = new StaticUsersAuthenticator('users_file', config.users_file.users, verifier);
    authenticators.push(usersFile);
    entryVersions.set(usersFile, staticEntryVersion(config.users_file.users));
  }
  if (config.ext_auth)
    authenticators.push(
      new ExtAuthenticator(config.ext_auth, deps.runCommand, deps.logger, deps.commandSlots?.ext_auth),
    );
  if (config.ldap_auth) authenticators.push(new LdapAuthenticator(config.ldap_auth, deps.ldapClient));
  if (config.oidc_auth) authenticators.push(new AppPasswordAuthenticator(config.oidc_auth));
  if (config.jwt_auth) authenticators.push(new JwtAuthenticator(config.jwt_auth));
  const extAuthz = config.ext_authz
    ? new ExtAuthorizer(config.ext_authz, deps.runCommand, deps.logger, deps.commandSlots?.ext_authz)
    : undefined;
  const sign = createTokenSigner(config.token.key, config.token.issuer);
  const refresh = config.token.refresh ? createRefreshTokens(config.token.refresh) : undefined;
  const oidc = config.oidc_auth ? new OidcLogin(config.oidc_auth) : undefined;
  const catalog = config.catalog ? new RegistryCatalog(config.catalog, sign) : undefined;
  const instrument = deps.instrument ?? ((a: Authenticator) => a);
  const fronted = withCache(config, authenticators, entryVersions);
  const caches = fronted.filter((a): a is CachedAuthenticator => a instanceof CachedAuthenticator);
  return Object.freeze({
    config,
    // Metrics see every request, cached or not.
    authenticators: fronted.map(instrument),
    cached: (credentials: Credentials) => caches.some((c) => c.holds(credentials)),
    claimed: (credentials: Credentials) => claimant(fronted, credentials) !== undefined,
    verifier,
    sign,
    refresh,
    extAuthz,
    cancellable: config.ext_auth !== undefined || config.ext_authz !== undefined,
    queued: queuedBy(config, fronted, caches),
    loginQueue: Object.freeze({
      ...config.login_queue,
      per_client: Math.min(config.login_queue.per_client, config.ext_auth?.maxPerClient ?? Infinity),
      ipv6_prefix: config.lockout.ipv6_prefix,
    }),
    oidc,
    catalog,
  });
}

/** Runtime.queued for this config and chain. */
function queuedBy(
  config: Config,
  chain: readonly Authenticator[],
  caches: readonly CachedAuthenticator[],
): Runtime['queued'] {
  const command = chain.findIndex((a) => a.name === 'ext_auth');
  if (command < 0) {
    return (request, cached) =>
      request.grant === 'password' && request.credentials.password !== undefined && !cached();
  }
  // Caches asked before the command runs: theirs, and those of the backends before it.
  const before = caches.filter((c) => chain.indexOf(c) <= command);
  // An anonymous request is answered by a static "" user before the command, if there is one.
  const anonymousRuns = !config.users?.has('') && !config.users_file?.users.has('');
  return (request) => {
    if (request.grant !== 'password') return false;
    const { credentials } = request;
    if (credentials.password === undefined) return anonymousRuns;
    return !before.some((c) => c.holds(credentials));
  };
}

/**
 * Puts the process's credential cache in front of every backend. Static users are versioned per
 * account (a changed hash or labels drops that account's entries); for the others a reload
 * drops every entry, as what changed in their config cannot be told per account.
 */
function withCache(
  config: Config,
  authenticators: readonly Authenticator[],
  entryVersions: ReadonlyMap<Authenticator, EntryVersion>,
): readonly Authenticator[] {
  const settings = config.credential_cache;
  const cache = sharedCredentialCache({ ttlMs: settings.ttl * 1000, maxEntries: settings.max_entries });
  if (!cache) return authenticators;
  const generation = randomUUID();
  return authenticators.map(
    (a) => new CachedAuthenticator(a, cache, entryVersions.get(a) ?? (() => generation)),
  );
}

/**
 * The highest bcrypt cost of the configured users (`users:` and `users_file:` together), or
 * undefined when no hash is configured. Every failed password costs one comparison at it
 * (src/authn/password.ts), so neither a cheaper hash nor an unknown account shows in the timing.
 */
export function topCost(config: Config): number | undefined {
  return costliestHash(config)?.cost;
}

/** The first user holding the highest bcrypt cost ({@link topCost}), `users:` before `users_file:`. */
export function costliestHash(
  config: Config,
): { cost: number; section: 'users' | 'users_file'; account: string } | undefined {
  let top: { cost: number; section: 'users' | 'users_file'; account: string } | undefined;
  for (const [section, users] of [
    ['users', config.users],
    ['users_file', config.users_file?.users],
  ] as const) {
    for (const [account, user] of users ?? []) {
      const cost = user.passwordHash ? bcryptCost(user.passwordHash) : undefined;
      if (cost !== undefined && (top === undefined || cost > top.cost)) top = { cost, section, account };
    }
  }
  return top;
}

/** Releases what the runtime's backends and verifier hold. */
export async function closeRuntime(runtime: Runtime): Promise<void> {
  await Promise.allSettled([
    ...runtime.authenticators.map((a) => a.close?.()),
    runtime.extAuthz?.close(),
    runtime.verifier.close?.(),
  ]);
}
