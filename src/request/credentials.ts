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
  /** Aborted when the request no longer needs an answer (answered, or the client went away). */
  readonly signal?: AbortSignal;
}
