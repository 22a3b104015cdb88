import type { Secret } from '../core/secret.js';

/** Credentials presented to the token endpoint. `account` is `""` for anonymous requests. */
export interface Credentials {
  readonly account: string;
  /** Absent for anonymous requests (no Authorization header). */
  readonly password: Secret | undefined;
  /**
   * The client address the request came from, for backends that bound the work one client may
   * cause (ext_auth's per-client bound). Never part of the decision.
   */
  readonly client?: string;
  /**
   * Set where the login queue bounds a backend's work per client (ext_auth's command): called
   * before that work, it holds the request's place, taking one when the request has none yet (a
   * credential cache answered it when asked, src/pipeline/runtime.ts queued), or throws the
   * queue's refusal (429/503); `quiet` counts no refusal. The returned function gives back what
   * it took. The backend then asks no per-client bound of its own.
   */
  readonly enterQueue?: (quiet?: boolean) => () => void;
  /** Aborted when the request no longer needs an answer (answered, or the client went away). */
  readonly signal?: AbortSignal;
  /**
   * Set where the lockout guards the login: how long the account a backend holds under another
   * spelling (a directory's alias) is held back for this client, in seconds, 0 when it is not.
   * The chain asks before it keeps such a success, and refuses one held back as a wrong password
   * would be refused (src/authn/chain.ts respelled), so a right password's answer is withheld
   * in every way a wrong one's is.
   */
  readonly heldBack?: (stored: string) => Promise<number>;
  /**
   * No credential cache answers this login: its client has not shown it holds the account's
   * password (Lockout.knownClient), so the password is checked in full, as a wrong one is, and
   * meets whatever a wrong one meets (the login queue, the lockout's store, a backend's outage).
   * A success is still kept for the next login.
   */
  readonly uncached?: boolean;
}
