/**
 * Errors with stable codes. One boundary (src/http/errors.ts) maps them to HTTP;
 * the CLI maps ConfigError and UsageError to exit code 2. Messages never hold a secret.
 */
export type ErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_BAD_REQUEST'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_INVALID_GRANT'
  | 'ERR_UNSUPPORTED_GRANT'
  | 'ERR_TOO_MANY_REQUESTS'
  | 'ERR_BUSY'
  | 'ERR_BACKEND_UNAVAILABLE'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_KEY'
  | 'ERR_USAGE';

export class RegauthError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A config file that cannot be used. `path` is the YAML path (`acl[3].match.team`), `line` 1-based when known. */
export class ConfigError extends RegauthError {
  readonly path: string;
  readonly line: number | undefined;
  readonly file: string | undefined;
  constructor(path: string, message: string, options?: { cause?: unknown; line?: number; file?: string }) {
    const where = path ? `${path}: ` : '';
    super('ERR_CONFIG', `${where}${message}`, options);
    this.path = path;
    this.line = options?.line;
    this.file = options?.file;
  }
}

/** Several config problems at once, so an operator fixes them in one pass. */
export class ConfigErrors extends RegauthError {
  readonly errors: ConfigError[];
  /**
   * The files the config names, as far as the load got (a file it could not read among them):
   * `regauth serve` watches them after a failed reload, so writing the missing file reloads.
   */
  readonly files: readonly string[];
  /** `what`: the kind of file, for the message's head (`invalid test file x.yml:`). */
  constructor(errors: ConfigError[], file?: string, what = 'config', files: readonly string[] = []) {
    const head = file ? `invalid ${what} ${file}` : `invalid ${what}`;
    super(
      'ERR_CONFIG',
      `${head}:\n${errors.map((e) => `  ${e.line ? `line ${e.line}: ` : ''}${e.message}`).join('\n')}`,
    );
    this.errors = errors;
    this.files = files;
  }
}

/**
 * A verb of the CLI was called wrongly (a malformed scope or label, a bad cost, a key directory
 * in the wrong state): exit code 2 with this message. Never reaches HTTP.
 */
export class UsageError extends RegauthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_USAGE', message, options);
  }
}

/** The request is malformed (HTTP 400). */
export class BadRequestError extends RegauthError {
  /** OAuth2 error for POST replies. */
  readonly oauthError: 'invalid_request' | 'invalid_scope' | 'invalid_client';
  constructor(
    message: string,
    oauthError: 'invalid_request' | 'invalid_scope' | 'invalid_client' = 'invalid_request',
  ) {
    super('ERR_BAD_REQUEST', message);
    this.oauthError = oauthError;
  }
}

/** Why a login was refused, for the audit log and the lockout (never sent to the client). */
export interface UnauthorizedDecision {
  /** The backend that denied; null when no backend knew the account. */
  readonly authenticator: string | null;
  readonly reason: string;
  /** The account as the denying backend holds it, when that backend knows the account exists. */
  readonly account?: string;
  /**
   * Seconds that account was held back for the client when the chain asked (Credentials.heldBack):
   * the lockout answers with it instead of reading the lock again.
   */
  readonly heldFor?: number;
}

/** Credentials missing or wrong (HTTP 401). */
export class UnauthorizedError extends RegauthError {
  /** For the audit log only: the backend that denied (null: no backend knew the account) and why. */
  readonly decision: UnauthorizedDecision | undefined;
  constructor(message = 'authentication failed', decision?: UnauthorizedDecision) {
    super('ERR_UNAUTHORIZED', message);
    this.decision = decision;
  }
}

/** A refresh token or app password that is tampered, expired, revoked or for another service (HTTP 401 invalid_grant). */
export class InvalidGrantError extends RegauthError {
  /** The account a refused refresh token names, once it decrypted (for the audit line only). */
  readonly account: string | undefined;
  /** What the client is told; `message`, the audit line's reason, may say more. */
  readonly told: string;
  constructor(message = 'invalid grant', account?: string, told = message) {
    super('ERR_INVALID_GRANT', message);
    this.account = account;
    this.told = told;
  }
}

/** A method the path does not answer (HTTP 405; the route table gives the `Allow` header). */
export class MethodNotAllowedError extends RegauthError {
  constructor() {
    super('ERR_METHOD_NOT_ALLOWED', 'method not allowed');
  }
}

export class UnsupportedGrantError extends RegauthError {
  /**
   * Names the grant type only when it has a grant type's form (`client_credentials`, a URN): a
   * form whose fields are not separated by `&` (one a line, or by `;`) is one field, grant_type,
   * holding the password that follows, and the message goes to the reply and the audit line.
   */
  constructor(grantType: string) {
    super(
      'ERR_UNSUPPORTED_GRANT',
      /^[A-Za-z0-9_.:/-]{1,64}$/.test(grantType)
        ? `unsupported grant_type ${JSON.stringify(grantType)}`
        : 'unsupported grant_type (not shown: it is not a grant type name)',
    );
  }
}

export class TooManyRequestsError extends RegauthError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, message = 'too many failed attempts, retry later') {
    super('ERR_TOO_MANY_REQUESTS', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Too many logins are being checked already (`login_queue.max_pending`): 503, retry later. */
export class ServerBusyError extends RegauthError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('ERR_BUSY', 'too many logins in progress, retry later');
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A backend could not answer (directory down, command crashed): fail closed with 503. */
export class BackendUnavailableError extends RegauthError {
  readonly backend: string;
  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super('ERR_BACKEND_UNAVAILABLE', `${backend}: ${message}`, options);
    this.backend = backend;
  }
}

/**
 * A backend's run cancelled because the request's client went away (src/ext/command.ts): answered
 * as an outage, to nobody, and neither the backend failing nor an outage for the metrics and the
 * audit line (outcome `cancelled`).
 */
export class CancelledError extends BackendUnavailableError {}

/**
 * Whether a request's error is its client's hang-up: a CancelledError, or the outage a refused
 * password was answered as when that outage was one (a withheld denial's decoy run cancelled; a
 * made-up name's would be a CancelledError itself, and the two must look alike).
 */
export function isCancelled(err: unknown): boolean {
  return (
    err instanceof CancelledError ||
    (err instanceof BackendUnavailableError && err.cause instanceof CancelledError)
  );
}

/**
 * A refused password answered as the outage of a later backend (HTTP 503, as that backend's
 * BackendUnavailableError): while it cannot answer, a made-up name, which reaches it, gets 503,
 * so a known account's wrong password must too, or the status would tell who exists. Still a
 * failed login for the lockout, which counts it (src/guard/lockout.ts).
 */
export class WithheldDenialError extends BackendUnavailableError {
  /** The denial withheld, for the lockout and the audit log only. */
  readonly decision: UnauthorizedDecision;
  constructor(outage: BackendUnavailableError, decision: UnauthorizedDecision) {
    super(
      outage.backend,
      `${outage.message.slice(outage.backend.length + 2)} (answered so for a password ${decision.authenticator ?? 'the chain'} refused)`,
      { cause: outage },
    );
    this.decision = decision;
  }
}

/** Formats a path as a YAML path: `acl[3].match.team`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else {
      const k = String(key);
      const plain = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k);
      out += plain ? (out ? `.${k}` : k) : `[${JSON.stringify(k)}]`;
    }
  }
  return out;
}

/**
 * An error of the operating system (ENOENT, EACCES, EADDRINUSE, ENOTFOUND…): it names the system
 * call that failed, as the errors of a path or an address the operator gave do.
 */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  const e = err as NodeJS.ErrnoException;
  return err instanceof Error && typeof e.code === 'string' && typeof e.syscall === 'string';
}
