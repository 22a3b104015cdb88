import { randomUUID } from 'node:crypto';
import type { Config } from './config/load.js';
import { bcryptPoolVerifier } from './authn/bcrypt-pool.js';
import {
  CachedAuthenticator,
  sharedCredentialCache,
  staticEntryVersion,
  type EntryVersion,
} from './authn/cache.js';
import { bcryptCost, type PasswordVerifier } from './authn/password.js';
import { StaticUsersAuthenticator } from './authn/users.js';
import { JwtAuthenticator } from './authn/jwt.js';
import { AppPasswordAuthenticator } from './authn/oidc-app-password.js';
import { OidcLogin } from './oidc/login.js';
import { LdapAuthenticator, type LdapClientFactory } from './authn/ldap.js';
import type { Authenticator } from './authn/types.js';
import { ExtAuthenticator } from './authn/ext.js';
import { ExtAuthorizer } from './authz/ext.js';
import type { CommandRunner } from './ext/command.js';
import { createTokenSigner, type TokenSigner } from './token/sign.js';
import { createRefreshTokens, type RefreshTokens } from './token/refresh.js';
import { RegistryCatalog } from './catalog/registry.js';

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
  /** The browser login (`/oidc/login`, `/oidc/callback`) when `oidc_auth` is set. */
  readonly oidc: OidcLogin | undefined;
  /** The registry's full catalog, read and cached for the filtered `/v2/_catalog` when `catalog:` is set. */
  readonly catalog: RegistryCatalog | undefined;
}

export interface RuntimeDeps {
  /** Override the password verifier (tests). Default: bcrypt in the process's worker pool. */
  readonly verifier?: PasswordVerifier;
  /** Runs `ext_auth` / `ext_authz` commands (default: child_process.spawn). */
  readonly runCommand?: CommandRunner;
  /** Override how LDAP clients are made (unit tests use a fake directory). */
  readonly ldapClient?: LdapClientFactory;
  /** Wraps each authenticator (metrics); the identity when absent. */
  readonly instrument?: (authenticator: Authenticator) => Authenticator;
}

export function createRuntime(config: Config, deps: RuntimeDeps = {}): Runtime {
  const verifier = deps.verifier ?? bcryptPoolVerifier(typicalCost(config));
  const authenticators: Authenticator[] = [];
  /** Backends whose per-account entries can be versioned; the others use the runtime's generation. */
  const entryVersions = new Map<Authenticator, EntryVersion>();
  if (config.users) {
    const users = new StaticUsersAuthenticator('users', config.users, verifier);
    authenticators.push(users);
    entryVersions.set(users, staticEntryVersion(config.users));
  }
  if (config.usersFile) {
    const usersFile = new StaticUsersAuthenticator('users_file', config.usersFile.users, verifier);
    authenticators.push(usersFile);
    entryVersions.set(usersFile, staticEntryVersion(config.usersFile.users));
  }
  if (config.extAuth) authenticators.push(new ExtAuthenticator(config.extAuth, deps.runCommand));
  if (config.ldap) authenticators.push(new LdapAuthenticator(config.ldap, deps.ldapClient));
  if (config.oidcAuth) authenticators.push(new AppPasswordAuthenticator(config.oidcAuth));
  if (config.raw.jwt_auth) authenticators.push(new JwtAuthenticator(config.raw.jwt_auth));
  const extAuthz = config.extAuthz ? new ExtAuthorizer(config.extAuthz, deps.runCommand) : undefined;
  const sign = createTokenSigner(config.token.key, config.token.issuer);
  const refresh = config.token.refresh ? createRefreshTokens(config.token.refresh) : undefined;
  const oidc = config.oidcAuth ? new OidcLogin(config.oidcAuth) : undefined;
  const catalog = config.catalog ? new RegistryCatalog(config.catalog, sign) : undefined;
  const instrument = deps.instrument ?? ((a: Authenticator) => a);
  return Object.freeze({
    config,
    // Metrics see every request, cached or not.
    authenticators: withCache(config, authenticators, entryVersions).map(instrument),
    verifier,
    sign,
    refresh,
    extAuthz,
    oidc,
    catalog,
  });
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
  const settings = config.raw.credential_cache;
  const cache = sharedCredentialCache({ ttlMs: settings.ttl * 1000, maxEntries: settings.max_entries });
  if (!cache) return authenticators;
  const generation = randomUUID();
  return authenticators.map(
    (a) => new CachedAuthenticator(a, cache, entryVersions.get(a) ?? (() => generation)),
  );
}

/** The bcrypt cost the configured users have, so the dummy comparison for unknown accounts costs the same. */
function typicalCost(config: Config): number {
  const all = [...(config.users?.values() ?? []), ...(config.usersFile?.users.values() ?? [])];
  for (const user of all) {
    const cost = user.passwordHash ? bcryptCost(user.passwordHash) : undefined;
    if (cost !== undefined) return cost;
  }
  return 10;
}

/** Releases what the runtime's backends and verifier hold. */
export async function closeRuntime(runtime: Runtime): Promise<void> {
  await Promise.allSettled([...runtime.authenticators.map((a) => a.close?.()), runtime.verifier.close?.()]);
}
