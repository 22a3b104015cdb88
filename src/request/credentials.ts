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
   * Takes a login-queue place for the request, or throws the queue's refusal (429/503); the
   * returned function gives it back. Set when the request holds no place because a credential
   * cache answered it when asked (src/pipeline/runtime.ts queued): a backend whose work the
   * queue bounds (ext_auth's command) takes one before that work, should the chain reach it.
   */
  readonly enterQueue?: (quiet?: boolean) => () => void;
  /** Aborted when the request no longer needs an answer (answered, or the client went away). */
  readonly signal?: AbortSignal;
}
