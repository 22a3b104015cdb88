import type { Labels } from '../authz/types.js';
import type { BackendUnavailableError } from '../core/errors.js';
import type { Credentials } from '../request/credentials.js';

/**
 * What an authenticator answers. `no_match` means "not mine, ask the next";
 * throw (BackendUnavailableError) only when the backend could not answer at all.
 */
export type AuthnResult =
  | {
      readonly outcome: 'authenticated';
      readonly labels: Labels;
      /**
       * Changes when the account's credential changes (e.g. a hash of the stored bcrypt hash).
       * A refresh token records it; `lookup` must return the same value for the token to stay valid.
       */
      readonly fingerprint?: string;
      /**
       * The account as the backend stores it, when the login spelled it otherwise (a directory
       * that found `alice` for `Alice`): tokens, ACL rules, refresh tokens and revocation use it,
       * so one account has one name whatever was typed.
       */
      readonly account?: string;
      /**
       * Unix seconds at which the credential itself expires (a CI ID token, an app password):
       * the credential cache forgets the success then, and a refresh token obtained with it
       * expires no later.
       */
      readonly expiresAt?: number;
      /**
       * Given by the credential cache, without the backend's own work (src/authn/cache.ts): a
       * success the chain then refuses costs that work all the same (chain.ts respelled).
       */
      readonly fromCache?: boolean;
    }
  | {
      readonly outcome: 'denied';
      readonly reason: string;
      /**
       * True when answering already cost one password comparison at the verifier's cost (a
       * static user's wrong password): the chain then spends no dummy comparison for it.
       */
      readonly checkedPassword?: boolean;
      /**
       * The account as the backend holds it, set only when the backend knows the account exists
       * (a static user, a directory entry found): when it is spelt otherwise than typed, the
       * lockout counts the failure on it too. Backends that cannot tell (app passwords, CI
       * tokens) leave it out.
       */
      readonly account?: string;
      /**
       * Set when the backend read `account`'s lock before checking the password
       * (Credentials.heldBack): the seconds it is held back for the client, 0 when it is not. The
       * lockout reads it no second time when it held the check back (more than 0); else again,
       * as the check ended.
       */
      readonly heldFor?: number;
    }
  | { readonly outcome: 'no_match' };

/** What `lookup` finds for an account that exists (see Authenticator.lookup). */
export interface LookupResult {
  /** The account's current labels; absent when the backend cannot know them again. */
  readonly labels?: Labels;
  /** The same credential fingerprint `authenticate` gives for the account. */
  readonly fingerprint?: string;
  /** The account as the backend stores it, when it holds it under another spelling. */
  readonly account?: string;
}

/**
 * One authentication backend (static users, htpasswd, LDAP, OIDC app passwords, CI tokens, external
 * program). Every backend runs the same contract tests (test/helpers/authn-contract.ts).
 */
export interface Authenticator {
  /** Short stable name for logs and metrics: `users`, `users_file`, `ldap_auth`, … */
  readonly name: string;
  authenticate(credentials: Credentials): Promise<AuthnResult>;
  /**
   * Looks an account up without its password, for refresh tokens: the account's current labels
   * (absent when the backend cannot know them again: the labels recorded in the refresh token
   * at issue are used) and credential fingerprint, or undefined when it no longer exists.
   * `account` is set when the backend holds it under another spelling (LDAP: `alice` for
   * `Alice`). Throws when the backend cannot answer. Backends without it cannot back refresh tokens.
   */
  lookup?(account: string): Promise<LookupResult | undefined>;
  /**
   * True when `lookup` cannot give the account's labels back (app passwords: they came from the
   * identity provider at login): refresh tokens then record the login's labels. Otherwise they
   * record none, and stay small however many groups an account has.
   */
  readonly labelsInRefreshToken?: boolean;
  /**
   * Spends the work a failed login for an unknown account costs here (LDAP: a search and a
   * bind), without answering and without throwing. The chain asks the backends after the one
   * that denied a login, so that a denial costs as much, as seen from the network, as a made-up
   * name that reached them. Resolves with the error `authenticate` would have thrown for such a
   * name when the backend could not answer (its BackendUnavailableError; not when the request was
   * turned away), so that the chain answers the denial as it would the made-up name; otherwise
   * undefined. Absent: a failed login costs this backend nothing worth mirroring.
   */
  decoy?(credentials: Credentials): Promise<BackendUnavailableError | undefined>;
  /**
   * Keeps this backend's success for exactly these credentials (the credential cache), once it is
   * the chain's answer. A success is held back until then: while the chain still asks an earlier
   * backend under the stored spelling, or once it refused the login after all, a remembered
   * success would spare the next try (a concurrent one too) the work a wrong password pays, and so
   * tell that the password was right. Absent: nothing is remembered.
   */
  remember?(credentials: Credentials): void;
  /**
   * The answer `authenticate` would give, when it is known at once without asking anyone (the
   * credential cache's success for exactly these credentials), else undefined. The chain asks it
   * of its first backend only (answerNow in src/authn/chain.ts), so that a cached login costs no
   * promise before its signature (docs/performance.md "The cached path"). Never throws.
   */
  answerNow?(credentials: Credentials): AuthnResult | undefined;
  /**
   * True when `credentials` carry a secret that only this backend can check and that nobody can
   * guess: a CI identity token naming one of jwt_auth's issuers (a signed JWT). Decided from the
   * credential's form alone, before anything is verified; cheap, never throws. The chain then
   * asks this backend alone, so no other backend (a directory's bind, ext_auth's command) ever
   * sees the token, and the lockout neither holds such a login back nor counts it.
   */
  claims?(credentials: Credentials): boolean;
  /** Readiness probe (`/readyz`): resolves when the backend can answer, throws otherwise. Cheap. */
  check?(): Promise<void>;
  /** Releases connections, workers; called on reload and shutdown. */
  close?(): Promise<void>;
}

export type { Credentials };
