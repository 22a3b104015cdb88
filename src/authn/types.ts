import type { Labels } from '../authz/types.js';
import type { Secret } from '../secret.js';

/** Credentials presented to the token endpoint. `account` is `""` for anonymous requests. */
export interface Credentials {
  readonly account: string;
  /** Absent for anonymous requests (no Authorization header). */
  readonly password: Secret | undefined;
}

/**
 * What an authenticator answers. `no_match` means "not mine, ask the next";
 * throw (BackendUnavailableError) only when the backend could not answer at all.
 */
export type AuthnResult =
  | { readonly outcome: 'authenticated'; readonly labels: Labels }
  | { readonly outcome: 'denied'; readonly reason: string }
  | { readonly outcome: 'no_match' };

/** One authentication backend (static users, htpasswd, LDAP, OIDC app passwords, CI tokens, external program). */
export interface Authenticator {
  /** Short stable name for logs and metrics: `users`, `users_file`, `ldap_auth`, … */
  readonly name: string;
  authenticate(credentials: Credentials): Promise<AuthnResult>;
  /** Releases connections, workers; called on reload and shutdown. */
  close?(): Promise<void>;
}
