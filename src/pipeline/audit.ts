import { InvalidGrantError, RegauthError, UnauthorizedError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Metrics } from './metrics.js';
import type { TokenResult } from './pipeline.js';
import { formatScope } from '../request/scope.js';
import { tokenShaped } from '../core/account-name.js';
import type { TokenRequest } from '../request/token-request.js';

/** What became of a token request, for the audit log and the metrics. */
export type Outcome =
  'granted' | 'denied_all' | 'denied' | 'bad_request' | 'locked' | 'unavailable' | 'error' | 'cancelled';

/** Everything the HTTP layer knows about one token request once it has answered. */
export interface TokenRequestRecord {
  readonly requestId: string;
  readonly method: 'GET' | 'POST';
  /** The client address after trusted-proxy resolution, and the proxy it came through (or null). */
  readonly ip: string | null;
  readonly via: string | null;
  /** Absent when the request could not be parsed. */
  readonly request?: TokenRequest;
  readonly result?: TokenResult;
  readonly error?: unknown;
  readonly status: number;
  /** Milliseconds from arrival to answer. */
  readonly ms: number;
  /** The client hung up before the answer, and the request's work was cancelled with it. */
  readonly cancelled?: boolean;
}

/** The outcome name for an HTTP status. */
export function outcomeOf(status: number): Outcome {
  if (status === 200) return 'granted';
  if (status === 401) return 'denied';
  if (status === 429) return 'locked';
  if (status === 503) return 'unavailable';
  if (status >= 400 && status < 500) return 'bad_request';
  return 'error';
}

/**
 * The outcome of one request: as its status says, except that a 200 whose every requested scope
 * was denied is `denied_all` (the protocol still answers with a token, one that grants nothing).
 * A request that asked for no scope (`docker login`) is `granted`.
 */
export function outcomeOfRequest(r: Pick<TokenRequestRecord, 'status' | 'result' | 'cancelled'>): Outcome {
  if (r.cancelled === true) return 'cancelled';
  const outcome = outcomeOf(r.status);
  if (outcome === 'granted' && r.result && r.result.decisions.length > 0 && r.result.access.length === 0) {
    return 'denied_all';
  }
  return outcome;
}

/**
 * The audit line of one token request: who (account, client address and proxy), what was
 * asked and given, which authenticator and which ACL rule decided, the outcome and latency.
 * Built from typed values only: passwords and tokens are never among them (the request's
 * password and refresh token are Secrets, and are not copied here anyway).
 */
export function auditRecord(r: TokenRequestRecord): Record<string, unknown> {
  const denial = r.error instanceof UnauthorizedError ? r.error.decision : undefined;
  const record: Record<string, unknown> = {
    requestId: r.requestId,
    method: r.method,
    client: { ip: r.ip, via: r.via },
    outcome: outcomeOfRequest(r),
    status: r.status,
  };
  if (r.request) {
    Object.assign(record, {
      grant: r.request.grant,
      service: loggedText(r.request.service),
      clientId: loggedText(r.request.clientId),
      account: loggedAccount(r.request.credentials.account),
      requested: r.request.scopes.map(formatScope),
    });
  }
  if (r.result) {
    Object.assign(record, {
      // For the refresh grant the account comes from the refresh token, not from the request;
      // for a password login it is the backend's spelling (`typedAccount`: what the client sent).
      account: r.result.account,
      ...(r.request?.grant === 'password' && r.request.credentials.account !== r.result.account
        ? { typedAccount: loggedAccount(r.request.credentials.account) }
        : {}),
      authenticator: r.result.authenticatedBy,
      ...(r.result.refreshToken
        ? { refreshToken: r.request?.grant === 'refresh_token' ? 'used' : 'issued' }
        : {}),
      granted: r.result.access.map(formatScope),
      decisions: r.result.decisions.map((d) => ({
        scope: formatScope(d.scope),
        granted: d.decision.granted,
        rule: d.decision.rule,
        ...(d.decision.comment !== undefined ? { comment: d.decision.comment } : {}),
        ...(d.decision.authorizer === 'ext_authz' ? { authorizer: 'ext_authz' } : {}),
      })),
    });
  } else if (r.error instanceof InvalidGrantError && r.error.account !== undefined) {
    // A refresh token that decrypted and was refused: whose token is still in use.
    record['account'] = r.error.account;
    record['reason'] = r.error.message;
  } else if (denial) {
    Object.assign(record, { authenticator: denial.authenticator, reason: denial.reason });
  } else if (r.error instanceof RegauthError) {
    record['reason'] = r.error.message;
  }
  record['ms'] = Math.round(r.ms * 1000) / 1000;
  return record;
}

/**
 * The account a request typed, as its audit line shows it: a token in its place is not shown, nor
 * what follows a colon (`alice:hunter2`, curl's `-u user:password` typed at a username prompt; a
 * Basic login's name never holds one).
 */
function loggedAccount(account: string): string {
  if (tokenShaped(account)) return '(a token sent as the user name)';
  const colon = account.indexOf(':');
  return colon < 0 ? account : `${account.slice(0, colon)}:(the rest not shown)`;
}

/** A client-chosen field (`service`, `client_id`) as the audit line shows it: a token in it is not shown. */
function loggedText<T extends string | undefined>(text: T): T | '(a token, not shown)' {
  return text !== undefined && tokenShaped(text) ? '(a token, not shown)' : text;
}

const MESSAGES: Partial<Record<Outcome, string>> = {
  granted: 'token issued',
  denied_all: 'token issued, every requested scope denied',
  cancelled: 'client gone before the answer',
};

/** Writes the audit line and counts the request in the metrics. */
export function recordTokenRequest(
  logger: Logger,
  metrics: Metrics | undefined,
  r: TokenRequestRecord,
): void {
  const record = auditRecord(r);
  if (r.status >= 500 && r.cancelled !== true) {
    // Unknown errors go to the log with their stack; the client only saw an opaque 500.
    logger.error({ ...record, err: r.error instanceof RegauthError ? undefined : r.error }, 'token refused');
  } else {
    logger.info(record, MESSAGES[record['outcome'] as Outcome] ?? 'token refused');
  }
  if (!metrics) return;
  const outcome = record['outcome'] as Outcome;
  metrics.countTokenRequest(outcome, r.request?.grant ?? 'unknown', r.ms / 1000);
  for (const d of r.result?.decisions ?? []) {
    if (d.decision.granted.length < d.scope.actions.length) {
      metrics.denials.inc({
        rule:
          d.decision.authorizer === 'ext_authz'
            ? 'ext_authz'
            : d.decision.rule === null
              ? 'none'
              : String(d.decision.rule),
        comment: d.decision.comment ?? '',
      });
    }
  }
}
