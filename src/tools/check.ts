import { authenticate } from '../authn/chain.js';
import { authorizeScope } from '../authz/chain.js';
import { parseIpMatcher } from '../authz/ip.js';
import type { AuthzDecision, Labels } from '../authz/types.js';
import { BadRequestError } from '../errors.js';
import { formatScope, parseScopes, type Scope } from '../request/scope.js';
import type { Runtime } from '../runtime.js';
import type { Secret } from '../secret.js';

/** What `regauth check` is asked: one account, one or more scopes, and the request's context. */
export interface CheckInput {
  readonly account: string;
  /** Scope strings as clients send them: `repository:team/app:push,pull`. */
  readonly scopes: readonly string[];
  readonly service?: string;
  readonly ip?: string;
  /** Labels as if an authenticator had reported them (`--label k=v`); added to the authenticators' ones. */
  readonly labels?: Labels;
  /** When given (`--password-stdin`), the real authenticators run first and their labels are used. */
  readonly password?: Secret;
}

/** The decision for one scope, as `regauth check --json` prints it. */
export interface ScopeReport {
  /** The scope as requested, normalized: `repository:team/app:pull,push`. */
  readonly scope: string;
  readonly granted: string[];
  /** The deciding ACL rule, or null when none matched (then `authorizer` says who decided, if anyone). */
  readonly rule: { readonly index: number; readonly path: string; readonly comment?: string } | null;
  /** `acl`, `ext_authz`, or null when nothing decided (deny by default). */
  readonly authorizer: 'acl' | 'ext_authz' | null;
}

export type CheckResult =
  | {
      readonly outcome: 'checked';
      readonly labels: Labels;
      readonly authenticatedBy: string | null;
      readonly scopes: ScopeReport[];
    }
  | { readonly outcome: 'unauthenticated'; readonly reason: string };

/** Bad input to `check` (a malformed scope, label or address): exit code 2. */
export class CheckUsageError extends Error {
  override readonly name = 'CheckUsageError';
}

/**
 * What the token endpoint would grant, and which rule decided each scope. Uses the same
 * authorizers as the server (`acl`, then `ext_authz`). Throws CheckUsageError on bad input and
 * BackendUnavailableError when a backend cannot answer.
 */
export async function checkAccess(runtime: Runtime, input: CheckInput): Promise<CheckResult> {
  const scopes = parseScopeArgs(input.scopes);
  const service = input.service ?? '';
  const services = runtime.config.token.services;
  if (services.length > 0 && !services.includes(service)) {
    throw new CheckUsageError(
      `service ${JSON.stringify(service)} is not in token.services (${services.join(', ')}); the token endpoint answers 400`,
    );
  }
  const ip = input.ip ?? null;
  if (ip !== null) {
    try {
      parseIpMatcher(ip);
    } catch {
      throw new CheckUsageError(`invalid --ip ${JSON.stringify(ip)}; expected an IPv4 or IPv6 address`);
    }
  }

  let labels: Labels = input.labels ?? {};
  let authenticatedBy: string | null = null;
  if (input.password !== undefined) {
    const authn = await authenticate(
      runtime.authenticators,
      { account: input.account, password: input.password },
      runtime.verifier,
    );
    if (authn.outcome === 'denied') {
      return {
        outcome: 'unauthenticated',
        reason: authn.by ? `${authn.reason} (${authn.by})` : authn.reason,
      };
    }
    labels = mergeLabels(authn.labels, labels);
    authenticatedBy = authn.by;
  }

  const reports: ScopeReport[] = [];
  for (const scope of scopes) {
    const decision = await authorizeScope(runtime.config.acl, runtime.extAuthz, {
      account: input.account,
      type: scope.type,
      name: scope.name,
      service,
      ip,
      labels,
      actions: scope.actions,
    });
    reports.push(scopeReport(runtime, scope, decision));
  }
  return { outcome: 'checked', labels, authenticatedBy, scopes: reports };
}

/** A decision in report form: the deciding rule's index, path and comment, and which authorizer decided. */
export function scopeReport(runtime: Runtime, scope: Scope, decision: AuthzDecision): ScopeReport {
  const info = decision.rule === null ? undefined : runtime.config.acl.rules[decision.rule];
  const rule = info
    ? { index: info.index, path: info.path, ...(info.comment === undefined ? {} : { comment: info.comment }) }
    : null;
  return {
    scope: formatScope(scope),
    granted: decision.granted,
    rule,
    authorizer: rule ? 'acl' : (decision.authorizer ?? null),
  };
}

/** Three lines per scope for humans: the scope, `granted: pull`, `decided: acl[2] "team pull"`. */
export function formatReport(report: ScopeReport): string {
  const granted = report.granted.length > 0 ? report.granted.join(',') : '(nothing)';
  return `${report.scope}\n  granted: ${granted}\n  decided: ${describeDecider(report)}`;
}

/** `acl[2] "team pull"`, `ext_authz`, or `no rule matched (deny by default)`. */
export function describeDecider(report: Pick<ScopeReport, 'rule' | 'authorizer'>): string {
  if (report.rule) {
    const comment = report.rule.comment === undefined ? '' : ` ${JSON.stringify(report.rule.comment)}`;
    return `${report.rule.path}${comment}`;
  }
  if (report.authorizer === 'ext_authz') return 'ext_authz (no ACL rule matched)';
  return 'no rule matched (deny by default)';
}

/** Parses `--scope` values with the server's own parser; a bad one is a usage error naming it. */
export function parseScopeArgs(values: readonly string[]): Scope[] {
  if (values.length === 0)
    throw new CheckUsageError('give at least one --scope, e.g. repository:team/app:pull');
  try {
    return parseScopes(values);
  } catch (err) {
    if (err instanceof BadRequestError) throw new CheckUsageError(`invalid scope: ${err.message}`);
    throw err;
  }
}

/** Parses `--label key=value` options (repeatable; several values for one key accumulate). */
export function parseLabelArgs(values: readonly string[]): Labels {
  const labels: Record<string, string[]> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new CheckUsageError(`invalid --label ${JSON.stringify(value)}; expected key=value`);
    const key = value.slice(0, eq);
    (labels[key] ??= []).push(value.slice(eq + 1));
  }
  return labels;
}

function mergeLabels(a: Labels, b: Labels): Labels {
  const out: Record<string, string[]> = {};
  for (const labels of [a, b]) {
    for (const [k, v] of Object.entries(labels)) out[k] = [...new Set([...(out[k] ?? []), ...v])];
  }
  return out;
}
