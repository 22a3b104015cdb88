/**
 * An error of the catalog endpoint, in the registry's own terms (distribution's errcode): the
 * HTTP layer writes `{"errors":[{code, message, detail}]}` with `status`, plus the Bearer
 * challenge for 401 and `Retry-After` for 503.
 */
export class CatalogError extends Error {
  readonly status: number;
  /**
   * The registry's error code: `UNAUTHORIZED`, `PAGINATION_NUMBER_INVALID`, `NAME_INVALID`,
   * `TOOMANYREQUESTS`, `UNAVAILABLE`.
   */
  readonly errorCode: string;
  readonly detail: unknown;
  /** For 401: the challenge's `error` parameter (`invalid_token`), if any. */
  readonly challengeError: string | undefined;
  /** For 429 and 503: seconds. */
  readonly retryAfter: number | undefined;
  constructor(
    status: number,
    errorCode: string,
    message: string,
    options: { detail?: unknown; challengeError?: string; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'CatalogError';
    this.status = status;
    this.errorCode = errorCode;
    this.detail = options.detail;
    this.challengeError = options.challengeError;
    this.retryAfter = options.retryAfter;
  }
}

/** The detail the registry gives with its 401 for the catalog (the access the challenge asks for). */
export const CATALOG_ACCESS_DETAIL = [{ Type: 'registry', Class: '', Name: 'catalog', Action: '*' }];

export function unauthorized(challengeError?: string): CatalogError {
  return new CatalogError(401, 'UNAUTHORIZED', 'authentication required', {
    detail: CATALOG_ACCESS_DETAIL,
    ...(challengeError ? { challengeError } : {}),
  });
}

/** How long a client should wait before asking again when the registry cannot be read. */
export const UNAVAILABLE_RETRY_AFTER = 5;

export function unavailable(cause: unknown): CatalogError {
  return new CatalogError(503, 'UNAVAILABLE', 'service unavailable', {
    retryAfter: UNAVAILABLE_RETRY_AFTER,
    cause,
  });
}

/** ext_authz's per-client bound turned the request away (the registry's own 429 code). */
export function tooManyRequests(retryAfter: number, cause: unknown): CatalogError {
  return new CatalogError(429, 'TOOMANYREQUESTS', 'too many requests', { retryAfter, cause });
}
