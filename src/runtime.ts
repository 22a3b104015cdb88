import type { Config } from './config/load.js';
import { bcryptCost, bcryptVerifier, type PasswordVerifier } from './authn/password.js';
import { StaticUsersAuthenticator } from './authn/users.js';
import type { Authenticator } from './authn/types.js';
import { createTokenSigner, type TokenSigner } from './token/sign.js';

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
}

export interface RuntimeDeps {
  /** Override the password verifier (tests, worker pool). */
  readonly verifier?: PasswordVerifier;
  /** Wraps each authenticator (metrics); the identity when absent. */
  readonly instrument?: (authenticator: Authenticator) => Authenticator;
}

export function createRuntime(config: Config, deps: RuntimeDeps = {}): Runtime {
  const verifier = deps.verifier ?? bcryptVerifier(typicalCost(config));
  const authenticators: Authenticator[] = [];
  if (config.users) authenticators.push(new StaticUsersAuthenticator('users', config.users, verifier));
  if (config.usersFile)
    authenticators.push(new StaticUsersAuthenticator('users_file', config.usersFile.users, verifier));
  const sign = createTokenSigner(config.token.key, config.token.issuer);
  const instrument = deps.instrument ?? ((a: Authenticator) => a);
  return Object.freeze({ config, authenticators: authenticators.map(instrument), verifier, sign });
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
