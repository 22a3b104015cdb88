import type { Config } from './config/load.js';
import { bcryptCost, bcryptVerifier, type PasswordVerifier } from './authn/password.js';
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

/**
 * Everything a token request needs, built from one Config and never mutated: a reload builds
 * a new Runtime completely and swaps the reference, so a request runs against one config only.
 */
export interface Runtime {
  readonly config: Config;
  /** In design.md order: users, users_file, ext_auth, ldap_auth, oidc_auth, jwt_auth. */
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
}

export interface RuntimeDeps {
  /** Override the password verifier (tests, worker pool). */
  readonly verifier?: PasswordVerifier;
  /** Runs `ext_auth` / `ext_authz` commands (default: child_process.spawn). */
  readonly runCommand?: CommandRunner;
  /** Override how LDAP clients are made (unit tests use a fake directory). */
  readonly ldapClient?: LdapClientFactory;
  /** Wraps each authenticator (metrics); the identity when absent. */
  readonly instrument?: (authenticator: Authenticator) => Authenticator;
}

export function createRuntime(config: Config, deps: RuntimeDeps = {}): Runtime {
  const verifier = deps.verifier ?? bcryptVerifier(typicalCost(config));
  const authenticators: Authenticator[] = [];
  if (config.users) authenticators.push(new StaticUsersAuthenticator('users', config.users, verifier));
  if (config.usersFile)
    authenticators.push(new StaticUsersAuthenticator('users_file', config.usersFile.users, verifier));
  if (config.extAuth) authenticators.push(new ExtAuthenticator(config.extAuth, deps.runCommand));
  if (config.ldap) authenticators.push(new LdapAuthenticator(config.ldap, deps.ldapClient));
  if (config.oidcAuth) authenticators.push(new AppPasswordAuthenticator(config.oidcAuth));
  if (config.raw.jwt_auth) authenticators.push(new JwtAuthenticator(config.raw.jwt_auth));
  const extAuthz = config.extAuthz ? new ExtAuthorizer(config.extAuthz, deps.runCommand) : undefined;
  const sign = createTokenSigner(config.token.key, config.token.issuer);
  const refresh = config.token.refresh ? createRefreshTokens(config.token.refresh) : undefined;
  const oidc = config.oidcAuth ? new OidcLogin(config.oidcAuth) : undefined;
  const instrument = deps.instrument ?? ((a: Authenticator) => a);
  return Object.freeze({
    config,
    authenticators: authenticators.map(instrument),
    verifier,
    sign,
    refresh,
    extAuthz,
    oidc,
  });
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

/** Releases what the runtime's backends hold. */
export async function closeRuntime(runtime: Runtime): Promise<void> {
  await Promise.allSettled(runtime.authenticators.map((a) => a.close?.()));
}
