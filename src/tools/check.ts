import { isAccountName, quoteAccount, REFUSED_ACCOUNT_NAME } from '../core/account-name.js';
import { authenticate } from '../authn/chain.js';
import { authorizeScopes } from '../authz/chain.js';
import { isClientAddress } from '../authz/ip.js';
import { normalizeIp } from '../request/client-ip.js';
import type { AclRuleInfo, CompiledAcl } from '../authz/acl.js';
import type { AuthzDecision, AuthzRequest, Labels } from '../authz/types.js';
import { BadRequestError, UsageError } from '../core/errors.js';
import { formatScope, parseScopes, type Scope } from '../request/scope.js';
import type { Config } from '../config/load.js';
import { ONLINE_BACKENDS } from '../config/sections.js';
import { defaultService, extAuthzFor, refusedService } from '../pipeline/pipeline.js';
import type { Runtime } from '../pipeline/runtime.js';
import type { Secret } from '../core/secret.js';

/** What `regauth check` is asked: one account, one or more scopes, and the request's context. */
export interface CheckInput {
  readonly account: string;
  /** Scope strings as clients send them: `repository:team/app:push,pull`. */
  readonly scopes: readonly string[];
  readonly service?: string;
  readonly ip?: string;
  /**
   * Labels as if an authenticator had reported them (`--label k=v`); added to the authenticators'
   * ones. When absent (and no password), the labels the config's static users hold are used.
   */
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
      /** Where the labels came from, when the config supplied them (no --label, no password). */
      readonly labelsNote?: string;
      readonly authenticatedBy: string | null;
      readonly scopes: ScopeReport[];
    }
  | { readonly outcome: 'unauthenticated'; readonly reason: string };

/**
 * What the token endpoint would grant, and which rule decided each scope. Uses the same
 * authorizers as the server (`acl`, then `ext_authz`). Throws UsageError on bad input and
 * BackendUnavailableError when a backend cannot answer.
 */
export async function checkAccess(
  runtime: Runtime,
  input: CheckInput,
  /** Told a note for the operator before the scopes are decided (the rules on ip passed over). */
  note: (text: string) => void = () => undefined,
): Promise<CheckResult> {
  if (!isAccountName(input.account)) {
    throw new UsageError(`invalid --account ${quoteAccount(input.account)}: ${REFUSED_ACCOUNT_NAME}`);
  }
  const scopes = parseScopeArgs(input.scopes);
  const services = runtime.config.token.services;
  const service = input.service ?? defaultService(services);
  if (service === undefined) {
    throw new UsageError(
      `token.services lists ${services.join(', ')}: give the one to check with --service (the token endpoint answers 400 for any other)`,
    );
  }
  checkServiceArg(runtime.config, service);
  if (input.ip !== undefined) checkIpArg(input.ip);
  // As the token endpoint reads a client address: an IPv4-mapped one is the IPv4 address.
  const ip = input.ip === undefined ? null : normalizeIp(input.ip);

  let labels: Labels = input.labels ?? {};
  let labelsNote: string | undefined;
  let authenticatedBy: string | null = null;
  // The account the scopes are decided for: with a password, as the backend spells it (a
  // directory finds alice for alice@example.org), as the token endpoint decides.
  let account = input.account;
  if (input.password === undefined) {
    const known = offlineLabels(runtime.config, input.account);
    if (anonymousRefused(runtime.config, input.account, known))
      return { outcome: 'unauthenticated', reason: NO_ANONYMOUS };
    if (input.labels === undefined) {
      labels = known.labels;
      labelsNote = known.note;
    }
  }
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
    account = authn.account ?? input.account;
  }

  // The scopes of one request, decided together as the token endpoint decides them: more that
  // need ext_authz than ext_authz.max_calls_per_request is the endpoint's 400, nothing granted.
  const requests = scopes.map((scope) => ({
    account,
    type: scope.type,
    name: scope.name,
    service,
    ip,
    labels,
    actions: scope.actions,
  }));
  // Said before deciding: ext_authz, asked only for want of the address, may refuse or fail.
  const passedOver = new Set(
    requests.flatMap((request) => addressRulesPassedOver(runtime.config.acl, request)),
  );
  if (passedOver.size > 0) note(`note: no --ip: ${addressNote([...passedOver])}`);
  let decisions;
  try {
    decisions = await authorizeScopes(runtime.config.acl, extAuthzFor(runtime, service), requests);
  } catch (err) {
    if (!(err instanceof BadRequestError)) throw err;
    throw new UsageError(
      `the token endpoint refuses these scopes in one request (400, nothing granted): ${err.message}; check fewer at a time`,
    );
  }
  const reports = scopes.map((scope, i) => scopeReport(runtime, scope, decisions[i]!));
  return {
    outcome: 'checked',
    labels,
    ...(labelsNote === undefined ? {} : { labelsNote }),
    authenticatedBy,
    scopes: reports,
  };
}

/**
 * The ACL rules a request without a client address passed over for want of one: rules on `ip`
 * ahead of the ACL rule that decides it (all of them when none does, and ext_authz is asked, if
 * configured) that match the request on every other field. The token endpoint always has an
 * address, so `check` without --ip and an expectation without `ip:` are decided as no real
 * request is; they name these rules (addressNote) instead of answering silently. In ACL order,
 * without duplicates.
 */
export function addressRulesPassedOver(acl: CompiledAcl, request: AuthzRequest): AclRuleInfo[] {
  if (request.ip !== null || !acl.rules.some((r) => r.match.ip !== undefined)) return [];
  const decided = acl.authorize(request).rule;
  const { ip: _unknown, ...partial } = request;
  return acl
    .explain(partial)
    .filter(
      (e) => (decided === null || e.index < decided) && e.match === 'depends' && e.conditions.includes('ip'),
    )
    .map((e) => acl.rules[e.index]!);
}

/** `acl[1] "office" (ip: 10.0.0.0/8) matches by client address and was passed over; …` */
export function addressNote(rules: readonly AclRuleInfo[]): string {
  const named = [...rules]
    .sort((a, b) => a.index - b.index)
    .map(
      (r) => `${r.path}${r.comment === undefined ? '' : ` ${JSON.stringify(r.comment)}`} (ip: ${r.match.ip})`,
    );
  const one = named.length === 1;
  return `${named.join(', ')} ${one ? 'matches' : 'match'} by client address and ${one ? 'was' : 'were'} passed over; every request the token endpoint decides has an address, give one to decide as it would`;
}

/** Why an anonymous request gets no token without a `""` user (check and test say it alike). */
export const NO_ANONYMOUS =
  'anonymous requests get no token: no `""` entry without a password in users: or users_file, and no ext_auth (no other backend logs in an anonymous request; the token endpoint answers 401)';

/**
 * Whether the token endpoint refuses the anonymous account outright: no static backend holds
 * `""`, and no `ext_auth` (the only other backend that may log in a request without credentials:
 * ldap_auth, oidc_auth and jwt_auth find no account without a name or a password). (A named
 * account no backend holds is still decided by the ACL, with a note: a policy may name accounts
 * to come.)
 */
export function anonymousRefused(config: Config, account: string, known: OfflineLabels): boolean {
  if (account !== '' || known.unknownFrom.includes('ext_auth')) return false;
  // A static `""` entry logs in a request without credentials only when it takes no password.
  const entry = config.users?.get('') ?? config.users_file?.users.get('');
  return entry === undefined || entry.passwordHash !== undefined;
}

/** Backends whose labels are only known when they answer a login (not offline). */
/** The labels a config can tell without asking a backend, and a line saying where they came from. */
export interface OfflineLabels {
  readonly labels: Labels;
  /** `users` or `users_file` when a static backend holds the account, else null. */
  readonly from: 'users' | 'users_file' | null;
  /** For the operator: which labels were used, or why none (`labels: …`). */
  readonly note: string;
  /** For an account no static backend holds: the configured backends whose labels only a login tells. */
  readonly unknownFrom: readonly string[];
}

/**
 * The labels a login of `account` would get from the config's static backends, in the order the
 * server asks them (`users:`, then `users_file`): the first that holds the account decides. For
 * an account neither holds, the note names the configured backends whose labels only a login
 * tells, and how to pass them instead. Used by `check` and `test` alike.
 */
export function offlineLabels(config: Config, account: string): OfflineLabels {
  for (const [from, users] of [
    ['users', config.users],
    ['users_file', config.users_file?.users],
  ] as const) {
    const user = users?.get(account);
    if (user) {
      return {
        labels: user.labels,
        from,
        unknownFrom: [],
        note: `labels: ${formatLabels(user.labels)} (what ${from === 'users' ? 'users:' : from} holds for ${JSON.stringify(account)}; give --label to check with others)`,
      };
    }
  }
  const online = ONLINE_BACKENDS.filter((name) => config[name] !== undefined);
  const where = `${JSON.stringify(account)} is not in users: or users_file`;
  return {
    labels: {},
    from: null,
    unknownFrom: online,
    note:
      online.length > 0
        ? `labels: (none): ${where}, and the labels ${online.join(', ')} ${online.length === 1 ? 'gives are' : 'give are'} not known offline; pass them with --label key=value (repeatable), or use --password-stdin to ask the backends`
        : `labels: (none): ${where}, and no other backend is configured`,
  };
}

/** `group=devs,ops team=a`, or `(none)`. */
export function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels)
    .filter(([, values]) => values.length > 0)
    .map(([key, values]) => `${key}=${values.join(',')}`);
  return parts.length > 0 ? parts.join(' ') : '(none)';
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

/** A `--service` the token endpoint would refuse (400: not in `token.services`) is a usage error. */
export function checkServiceArg(config: Config, service: string): void {
  const { services } = config.token;
  if (refusedService(services, service, config.catalog?.service) !== undefined) {
    throw new UsageError(
      `service ${JSON.stringify(service)} is not in token.services (${services.join(', ')}); the token endpoint answers 400`,
    );
  }
}

/** An `--ip` that is no client address is a usage error. */
export function checkIpArg(ip: string): void {
  if (!isClientAddress(ip)) {
    throw new UsageError(`invalid --ip ${JSON.stringify(ip)}; expected an IPv4 or IPv6 address`);
  }
}

/** Parses `--scope` values with the server's own parser; a bad one is a usage error naming it. */
export function parseScopeArgs(values: readonly string[]): Scope[] {
  if (values.length === 0) throw new UsageError('give at least one --scope, e.g. repository:team/app:pull');
  try {
    return parseScopes(values);
  } catch (err) {
    if (err instanceof BadRequestError) throw new UsageError(`invalid scope: ${err.message}`);
    throw err;
  }
}

/** Parses `--label key=value` options (repeatable; several values for one key accumulate). */
export function parseLabelArgs(values: readonly string[]): Labels {
  // A Map, then fromEntries (which defines each key): in a plain object `constructor` and
  // `__proto__` would find Object's own.
  const labels = new Map<string, string[]>();
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid --label ${JSON.stringify(value)}; expected key=value`);
    const key = value.slice(0, eq);
    labels.set(key, [...(labels.get(key) ?? []), value.slice(eq + 1)]);
  }
  return Object.fromEntries(labels);
}

function mergeLabels(a: Labels, b: Labels): Labels {
  const out = new Map<string, string[]>();
  for (const labels of [a, b]) {
    for (const [k, v] of Object.entries(labels)) out.set(k, [...new Set([...(out.get(k) ?? []), ...v])]);
  }
  return Object.fromEntries(out);
}
