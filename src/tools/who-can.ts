import type { MatchKey, PartialAuthzRequest, RuleExplanation } from '../authz/acl.js';
import { compilePattern, PatternCache, type Pattern, type Placeholder } from '../authz/pattern.js';
import type { AclRuleInfo } from '../authz/acl.js';
import type { Config } from '../config/load.js';
import { ONLINE_BACKENDS } from '../config/sections.js';
import { formatScope, type Scope } from '../request/scope.js';
import { UsageError } from '../core/errors.js';
import { isAccountName, quoteAccount, REFUSED_ACCOUNT_NAME, shownAccount } from '../core/account-name.js';
import { checkIpArg, checkServiceArg, parseScopeArgs } from './check.js';
import { asksExtAuthz } from '../pipeline/pipeline.js';
import { parseIpMatcher } from '../authz/ip.js';

/** What `regauth who-can` is asked: one scope, and optionally the service and client address. */
export interface WhoCanInput {
  readonly scope: string;
  /** When given, rules on `service` are decided for it; otherwise they are conditions. */
  readonly service?: string;
  /** When given, rules on `ip` are decided for it; otherwise they are conditions. */
  readonly ip?: string;
}

/** A static account (`users:` or `users_file`) a rule decides for. */
export interface WhoCanAccount {
  readonly account: string;
  readonly backend: 'users' | 'users_file';
  /** Conditions still open for this account (on `ip` or `service`), in words; empty = always. */
  readonly when: readonly string[];
  /**
   * The requested actions the rule grants this account when it decides: less than the rule's own
   * when it matches the account only through an empty placeholder value (docs/acl.md).
   */
  readonly granted: readonly string[];
}

/** One rule that can decide the scope. */
export interface WhoCanRule {
  readonly index: number;
  readonly path: string;
  readonly comment?: string;
  /** The requested actions it grants when it decides (`[]`: it denies the scope). */
  readonly granted: readonly string[];
  readonly effect: 'grants' | 'grants part' | 'denies';
  /** The conditions of the rule that the scope alone does not settle, in words; empty = every request. */
  readonly conditions: readonly string[];
  /** An earlier rule that matches every request this one matches: this rule never decides the scope. */
  readonly shadowedBy: { readonly index: number; readonly path: string } | null;
  /** Static accounts this rule decides for (the first rule that matches them). */
  readonly accounts: readonly WhoCanAccount[];
  /**
   * Accounts of backends that cannot be listed (ext_auth, ldap_auth, oidc_auth, jwt_auth) that
   * the rule covers, in words; null when none of the configured ones can log in an account the
   * rule names (othersFrom).
   */
  readonly others: string | null;
  /** The configured backends whose accounts `others` speaks of (empty when it is null). */
  readonly othersFrom: readonly string[];
}

export interface WhoCanReport {
  /** The scope, normalized: `repository:prod/api:push`. */
  readonly scope: string;
  readonly service: string | null;
  readonly ip: string | null;
  /** Every rule that can decide the scope, in ACL order; rules that cannot match it are left out. */
  readonly rules: readonly WhoCanRule[];
  /** Configured backends whose accounts cannot be listed. */
  readonly dynamicBackends: readonly string[];
  /** Static accounts no rule decides for (always, or under some conditions). */
  readonly undecided: readonly string[];
  /**
   * Static accounts whose names the token endpoint refuses (docs/http-api.md "Account names"):
   * they can never log in, so no rule is listed for them.
   */
  readonly refusedNames: readonly string[];
  /** Who decides a scope no rule matches: `ext_authz`, or `deny` (deny by default). */
  readonly fallback: 'ext_authz' | 'deny';
}

/**
 * Who can be granted a scope (docs/cli.md "`regauth who-can`"): the rules that can decide it,
 * in order, each with the static accounts it decides for and, for backends whose accounts
 * cannot be listed, its conditions in words. Decided with the config's compiled ACL
 * (CompiledAcl.explain), never a second matcher. Throws UsageError on a bad scope or address.
 */
export function whoCan(config: Config, input: WhoCanInput): WhoCanReport {
  const scopes = parseScopeArgs([input.scope]);
  if (scopes.length !== 1) throw new UsageError('give one scope, e.g. repository:prod/api:push');
  const scope = scopes[0]!;
  if (input.ip !== undefined) checkIpArg(input.ip);
  if (input.service !== undefined) checkServiceArg(config, input.service);
  // Without --service: the one service the endpoint serves (token.services lists one, and no
  // filtered catalog adds its own), every request is for it; with several, the rules that match
  // none of them are left out.
  const served = servedServices(config);
  const service = input.service ?? (served?.length === 1 ? served[0] : undefined);
  const acl = askedOnce(config.acl);
  const base: PartialAuthzRequest = {
    type: scope.type,
    name: scope.name,
    actions: scope.actions,
    ...(service === undefined ? {} : { service }),
    ...(input.ip === undefined ? {} : { ip: input.ip }),
  };
  const unserved = unservedRules(config, acl, base);
  const explained = acl.explain(base);
  const candidates = explained.filter((e) => e.match !== 'no' && !unserved.has(e.index));
  const sources = labelSources(config);
  const dynamicBackends = ONLINE_BACKENDS.filter((b) => config[b] !== undefined);

  // Static accounts: the rules that decide for each, with what is still open (ip, service).
  const accountsOf = new Map<number, WhoCanAccount[]>();
  const undecided: string[] = [];
  const refusedNames: string[] = [];
  const seen = new Set<string>();
  for (const [backend, users] of [
    ['users', config.users],
    ['users_file', config.users_file?.users],
  ] as const) {
    for (const [account, user] of users ?? []) {
      // The first backend that knows an account decides for it (users before users_file).
      if (seen.has(account)) continue;
      seen.add(account);
      if (!isAccountName(account)) {
        refusedNames.push(account);
        continue;
      }
      let decided = false;
      for (const e of acl.explain({ ...base, account, labels: user.labels })) {
        if (e.match === 'no' || unserved.has(e.index)) continue;
        const info = acl.rules[e.index]!;
        const when = e.conditions.map((k) => condition(info, k, scope, sources, acl, base));
        const list = accountsOf.get(e.index) ?? [];
        list.push({ account, backend, when, granted: e.granted });
        accountsOf.set(e.index, list);
        if (e.match === 'yes') {
          decided = true;
          break;
        }
      }
      if (!decided) undecided.push(account);
    }
  }

  const rules: WhoCanRule[] = candidates.map((e) => {
    const info = acl.rules[e.index]!;
    const earlier = candidates.find((c) => c.index < e.index && shadows(acl, base, c, e));
    const conditions = e.conditions.map((k) => condition(info, k, scope, sources, acl, base));
    const othersFrom = earlier ? [] : backendsFor(info, dynamicBackends, seen);
    return {
      index: info.index,
      path: info.path,
      ...(info.comment === undefined ? {} : { comment: info.comment }),
      granted: e.granted,
      effect:
        e.granted.length === 0
          ? 'denies'
          : e.granted.length < new Set(scope.actions).size
            ? 'grants part'
            : 'grants',
      conditions,
      shadowedBy: earlier ? { index: earlier.index, path: acl.rules[earlier.index]!.path } : null,
      accounts: earlier ? [] : (accountsOf.get(e.index) ?? []),
      others:
        othersFrom.length === 0 ? null : conditions.length === 0 ? 'every account' : conditions.join('; '),
      othersFrom,
    };
  });

  return {
    scope: formatScope(scope),
    service: service ?? null,
    ip: input.ip ?? null,
    rules,
    dynamicBackends,
    undecided,
    refusedNames,
    fallback: asksExtAuthz(config, service) ? 'ext_authz' : 'deny',
  };
}

/**
 * The services the token endpoint serves: those `token.services` lists and the filtered catalog's
 * own (refusedService); undefined when it lists none (any service is served).
 */
function servedServices(config: Config): string[] | undefined {
  const { services } = config.token;
  if (services.length === 0) return undefined;
  return [...services, ...(config.catalog ? [config.catalog.service] : [])];
}

/**
 * With the service open and several services served: the rules on `service` that match
 * none of the services the endpoint serves (those listed, and the filtered catalog's own), which
 * can never decide (the endpoint answers 400 for any other service, before any rule).
 */
function unservedRules(config: Config, acl: Config['acl'], base: PartialAuthzRequest): Set<number> {
  const never = new Set<number>();
  const served = servedServices(config);
  if (base.service !== undefined || served === undefined) return never;
  const each = served.map((service) => acl.explain({ ...base, service }));
  for (const e of acl.explain(base)) {
    if (e.conditions.includes('service') && each.every((answers) => answers[e.index]!.match === 'no')) {
      never.add(e.index);
    }
  }
  return never;
}

/**
 * The ACL with `explain` answered once per question: every rule's conditions, and each static
 * account, ask about the same values (the name's path pieces), and each answer explains every
 * rule. Without it a report cost (rules × values) explanations of every rule.
 */
function askedOnce(acl: Config['acl']): Config['acl'] {
  const answers = new Map<string, RuleExplanation[]>();
  return {
    ...acl,
    explain: (request) => {
      const key = JSON.stringify(request);
      let answer = answers.get(key);
      if (answer === undefined) answers.set(key, (answer = acl.explain(request)));
      return answer;
    },
  };
}

/**
 * Whether `earlier` matches every request `later` matches, for this scope: its open conditions
 * are a subset of the later rule's, written the same way (the scope settles the others). When
 * the later rule names one account or service literally, the earlier rule is first decided for
 * that value with the compiled ACL (`account: "/.+/"` comes before `account: bob`).
 */
function shadows(
  acl: Config['acl'],
  base: PartialAuthzRequest,
  earlier: RuleExplanation,
  later: RuleExplanation,
): boolean {
  const earlierRule = acl.rules[earlier.index]!;
  const laterRule = acl.rules[later.index]!;
  let open = earlier;
  const fixed: { account?: string; service?: string } = {};
  for (const key of ['account', 'service'] as const) {
    const source = laterRule.match[key];
    if (later.conditions.includes(key) && source !== undefined && isLiteral(source)) fixed[key] = source;
  }
  if (Object.keys(fixed).length > 0) open = acl.explain({ ...base, ...fixed })[earlier.index]!;
  if (open.match === 'no') return false;
  if (open.match === 'yes') return true;
  return open.conditions.every(
    (k) => later.conditions.includes(k) && sameCondition(earlierRule, laterRule, k),
  );
}

/**
 * Whether a condition of two rules is the same test: written the same way, and each capture
 * placeholder in it (`${name:1}`) taken from a pattern written the same way in both, since it
 * reads a group of its own rule's regex (`${name:1}` of `/^([^/]+)\//` is not that of
 * `/^[^/]+\/([^/]+)$/`).
 */
function sameCondition(earlier: AclRuleInfo, later: AclRuleInfo, key: MatchKey): boolean {
  // On ip, by the blocks (`10.1.2.3/8` is `10.0.0.0/8`, which holds `10.1.0.0/16`), not the text.
  if (key === 'ip' && earlier.match.ip !== undefined && later.match.ip !== undefined) {
    return parseIpMatcher(earlier.match.ip).covers(parseIpMatcher(later.match.ip));
  }
  const source = matchSource(earlier, key);
  if (source !== matchSource(later, key)) return false;
  if (source === undefined) return true;
  return compilePattern(source).placeholders.every(
    (p) => p.kind !== 'group' || earlier.match[p.field] === later.match[p.field],
  );
}

function matchSource(rule: AclRuleInfo, key: MatchKey): string | undefined {
  if (key.startsWith('labels.')) return rule.match.labels?.[key.slice('labels.'.length)];
  return rule.match[key as Exclude<MatchKey, `labels.${string}`>];
}

/**
 * The configured backends (of `dynamic`) that can log in an account the rule names:
 * - `account: ""` (anonymous requests): only ext_auth logs in a request without credentials
 *   (ldap_auth, oidc_auth and jwt_auth find no account without a name and a password), and only
 *   when no static backend holds `""` (which answers such a request first);
 * - a static account's name written literally: only jwt_auth, whose CI tokens go to it alone,
 *   whatever comes first (ldap_auth, oidc_auth and ext_auth are asked after `users:` and
 *   `users_file`, which answer for their own accounts);
 * - any other: every one.
 */
function backendsFor(rule: AclRuleInfo, dynamic: readonly string[], statics: ReadonlySet<string>): string[] {
  const account = rule.match.account;
  // A static `""` answers every request without credentials first (in or out), so none then.
  if (account === '') return statics.has('') ? [] : dynamic.filter((b) => b === 'ext_auth');
  if (account !== undefined && isLiteral(account) && statics.has(account)) {
    return dynamic.filter((b) => b === 'jwt_auth');
  }
  return [...dynamic];
}

const isRegex = (p: string) => p.length > 2 && p.startsWith('/') && p.endsWith('/');

/** Where each label can come from, in words, per label name. */
function labelSources(config: Config): Map<string, string[]> {
  const sources = new Map<string, string[]>();
  const add = (label: string, source: string) => {
    const list = sources.get(label) ?? [];
    if (!list.includes(source)) list.push(source);
    sources.set(label, list);
  };
  for (const [section, users] of [
    ['users', config.users],
    ['users_file', config.users_file?.users],
  ] as const) {
    for (const user of users?.values() ?? []) for (const key of Object.keys(user.labels)) add(key, section);
  }
  if (config.ldap_auth) {
    for (const [label, s] of config.ldap_auth.labels) add(label, `LDAP attribute ${s.attribute}`);
    if (config.ldap_auth.groupSearch) add(config.ldap_auth.groupSearch.label, 'LDAP group search');
  }
  if (config.oidc_auth) {
    for (const [label, claim] of Object.entries(config.oidc_auth.labelClaims))
      add(label, `OIDC claim ${claim}`);
  }
  for (const issuer of config.jwt_auth?.issuers ?? []) {
    for (const [label, claim] of Object.entries(issuer.label_claims)) {
      add(label, `CI token claim ${claim} from ${issuer.issuer}`);
    }
  }
  if (config.ext_auth) {
    // ext_auth commands print any labels.
    for (const label of new Set([...sources.keys(), ...labelKeysOfAcl(config)])) add(label, 'ext_auth');
  }
  return sources;
}

function labelKeysOfAcl(config: Config): string[] {
  return config.acl.rules.flatMap((r) => Object.keys(r.match.labels ?? {}));
}

/** One open condition of a rule, in words. */
function condition(
  rule: AclRuleInfo,
  key: MatchKey,
  scope: Scope,
  sources: ReadonlyMap<string, string[]>,
  acl: Config['acl'],
  base: PartialAuthzRequest,
): string {
  const source = matchSource(rule, key) ?? '';
  if (key === 'ip') return `from ${source}`;
  if (key === 'account') return describeAccount(source);
  if (key === 'service') {
    return isLiteral(source) ? `for service ${JSON.stringify(source)}` : `for a service matching ${source}`;
  }
  if (key === 'type' || key === 'name') {
    const value = key === 'type' ? scope.type : scope.name;
    const words = `${key} ${JSON.stringify(value)} fits ${JSON.stringify(source)}`;
    const names = valuesFitting(rule, key, scope, acl, base, isAccount, (account) => ({ account }));
    if (names.any) return `${anyAccount(names.nonEmpty)} (${words} whatever the account)`;
    if (names.values.length > 0) {
      return `the account ${names.values.map((n) => JSON.stringify(n)).join(' or ')} (${words})`;
    }
    const labels = [...source.matchAll(/\$\{labels:([^}]+)\}/g)].map((m) => m[1]!);
    if (new Set(labels).size === 1) {
      const label = labels[0]!;
      const isLabel: Probed = (p) => p.kind === 'label' && p.label === label;
      const values = valuesFitting(rule, key, scope, acl, base, isLabel, (v) => ({
        labels: { [label]: [v] },
      }));
      const from = sources.get(label);
      const origin = from ? `from ${from.join(', ')}` : 'no backend produces it';
      if (values.any) return `label ${label} = any non-empty value (${origin}; ${words} whatever its value)`;
      if (values.values.length > 0) {
        return `label ${label} = ${values.values.join(' or ')} (${origin}; ${words})`;
      }
    }
    return words;
  }
  const label = key.slice('labels.'.length);
  const from = sources.get(label);
  const value = isLiteral(source) ? `= ${source}` : `matching ${source}`;
  return `label ${label} ${value} (${from ? `from ${from.join(', ')}` : 'no backend produces it'})`;
}

const isAccount: Probed = (p) => p.kind !== 'label' && p.field === 'account';

/** "any logged-in account", save those whose `nonEmpty` captures come out empty (the rule denies them). */
function anyAccount(nonEmpty: readonly string[]): string {
  if (nonEmpty.length === 0) return 'any logged-in account';
  const last = nonEmpty.length - 1;
  const names =
    nonEmpty.length === 1 ? nonEmpty[0]! : `${nonEmpty.slice(0, last).join(', ')} and ${nonEmpty[last]!}`;
  return `any logged-in account whose ${names} ${nonEmpty.length === 1 ? 'is' : 'are'} not empty`;
}

const isLiteral = (p: string) => !isRegex(p) && !/[*?[\]{}()\\$]/.test(p);

function describeAccount(source: string): string {
  if (source === '') return 'anonymous requests';
  if (source === '/.+/' || source === '/./' || source === '/^.+$/') return 'any logged-in account';
  if (isLiteral(source)) return `the account ${JSON.stringify(source)}`;
  return `accounts matching ${source}`;
}

/** What a rule's `name` (or `type`) says about the values of one probed field (valuesFitting). */
type Fitting =
  /**
   * It fits whatever the value: every value fits that leaves none of the `nonEmpty`
   * placeholders empty (the rule grants nothing through an empty value).
   */
  | { readonly any: true; readonly nonEmpty: readonly string[] }
  /** The values found to fit, among the scope's path pieces; none when that cannot be told. */
  | { readonly any: false; readonly values: readonly string[] };

/** The placeholders standing for the value probed: `${account}` and its captures, or one label. */
type Probed = (p: Placeholder) => boolean;

/** A value no repository name or type can hold (they are `[a-z0-9._/-]`), escaped as any value is. */
const STAND_IN = 'Ω';

/**
 * For a rule whose `name` (or `type`) holds `${account}`, `${account:N}` or one `${labels:X}`:
 * what it covers for this scope.
 *
 * `any` when the pattern, bound with a stand-in value no name can hold for the probed
 * placeholders and the request's own values for the others, still accepts the scope's name
 * (`{${account},pub}/*` for `pub/x`): a path through the pattern that takes no character of the
 * value does not depend on it. Not when a probed placeholder sits where its value can refuse a
 * name (underNegation); and only if each of the scope's path pieces and characters fits as the
 * value too.
 *
 * Otherwise the values found by trying the scope's path prefixes and segments (`prod` for
 * `prod/api` under `${account}/**`) with the compiled rule, leaving out those that fit only
 * through an empty placeholder value (the rule denies them).
 */
function valuesFitting(
  rule: AclRuleInfo,
  key: 'type' | 'name',
  scope: Scope,
  acl: Config['acl'],
  base: PartialAuthzRequest,
  probed: Probed,
  known: (value: string) => Partial<PartialAuthzRequest>,
): Fitting {
  const source = matchSource(rule, key);
  const target = key === 'type' ? scope.type : scope.name;
  let pattern: Pattern;
  try {
    pattern = compilePattern(source ?? '');
  } catch {
    return { any: false, values: [] }; // not reached: the config compiled it
  }
  const mine = pattern.placeholders.filter(probed);
  if (mine.length === 0) return { any: false, values: [] };
  if (underNegation(pattern, new Set(mine.map((p) => p.text)))) return { any: false, values: [] };

  const pieces = target.split('/');
  const tries = new Set<string>();
  for (let i = 1; i <= pieces.length; i++) tries.add(pieces.slice(0, i).join('/'));
  for (const s of pieces) tries.add(s);

  const cache = new PatternCache(1000);
  const fitsAs = (value: string) => {
    let empty = false;
    const test = pattern.bind(
      (p) => {
        const v = probed(p) ? value : requestValue(p, base);
        if (v === '') empty = true;
        return v;
      },
      cache,
      // A pattern the value makes unmatchable as written decides as an empty value (Unmatchable).
      () => (empty = true),
    );
    return test !== undefined && !empty && test(target);
  };
  // A value with a "/" too: minimatch splits a glob on "/" after the value is put in, so such a
  // value (a directory's account, a label) can break an extglob around it (`@(${account}|pub)`).
  if (fitsAs(STAND_IN) && fitsAs(`${STAND_IN}/${STAND_IN}`) && [...tries, ...target].every(fitsAs)) {
    // A logged-in account is never empty; a capture or a label value can be.
    return { any: true, nonEmpty: mine.filter((p) => p.kind === 'group').map((p) => p.text) };
  }

  const info = acl.rules[rule.index]!;
  const all = new Set(
    info.actions.includes('*') ? scope.actions : scope.actions.filter((a) => info.actions.includes(a)),
  ).size;
  const fitsWith = (value: string) => {
    const e = acl.explain({ ...base, ...known(value) })[rule.index]!;
    // Fewer actions than the rule grants: it matched through an empty value, and denies.
    return (
      e.match !== 'no' &&
      !e.conditions.includes('name') &&
      !e.conditions.includes('type') &&
      e.granted.length === all
    );
  };
  return { any: false, values: [...tries].filter(fitsWith) };
}

/** A placeholder's value from the request who-can knows, or undefined (then nothing is decided). */
function requestValue(p: Placeholder, base: PartialAuthzRequest): string | undefined {
  if (p.kind !== 'value') return undefined;
  return base[p.field];
}

/**
 * Whether one of the placeholders `texts` sits where its value can refuse a name: in a negative
 * lookaround (`(?!…)`, `(?<!…)`) or a glob's `!(…)`, or anywhere in a regex with back-references
 * (`\k<n>`). (A placeholder inside a class is refused at load; classes are skipped here so that
 * their parentheses are not read as groups.)
 */
function underNegation(pattern: Pattern, texts: ReadonlySet<string>): boolean {
  const regex = pattern.kind === 'regex';
  const body = regex ? pattern.source.slice(1, -1) : pattern.source;
  if (regex && body.includes('\\k<')) return true;
  /** For each open group, whether it negates. */
  const groups: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (body.startsWith('${', i)) {
      const end = body.indexOf('}', i);
      if (texts.has(body.slice(i, end + 1)) && groups.includes(true)) return true;
      i = end;
    } else if (c === '\\') {
      i++;
    } else if (inClass) {
      if (!regex && body.startsWith('[:', i)) {
        const close = body.indexOf(':]', i + 2);
        if (close > 0) i = close + 1;
      } else if (c === ']') {
        inClass = false;
      }
    } else if (c === '[') {
      inClass = true;
      if (body[i + 1] === '^' || (!regex && body[i + 1] === '!')) i++;
      // A `]` first in a glob's class is a member (a regex's is refused at load).
      if (!regex && body[i + 1] === ']') i++;
    } else if (c === '(') {
      groups.push(regex ? body.startsWith('(?!', i) || body.startsWith('(?<!', i) : body[i - 1] === '!');
    } else if (c === ')') {
      groups.pop();
    }
  }
  return false;
}

/** The text report: one block per rule, then the static accounts no rule decides for. */
export function formatWhoCan(report: WhoCanReport): string {
  const lines: string[] = [];
  const context = [
    report.service === null ? '' : ` for service ${JSON.stringify(report.service)}`,
    report.ip === null ? '' : ` from ${report.ip}`,
  ].join('');
  if (report.rules.length === 0) {
    lines.push(`${report.scope}${context}: no rule can decide it`);
  } else {
    lines.push(
      `${report.scope}${context}: the rules that can decide it, in order (the first that matches wins)`,
    );
  }
  for (const rule of report.rules) {
    const name = `${rule.path}${rule.comment === undefined ? '' : ` ${JSON.stringify(rule.comment)}`}`;
    const effect = rule.effect === 'denies' ? 'denies' : `${rule.effect} ${rule.granted.join(',')}`;
    lines.push('');
    if (rule.shadowedBy) {
      lines.push(
        `${name}: shadowed by ${rule.shadowedBy.path} (it matches first whenever this rule would); never decides`,
      );
      continue;
    }
    lines.push(`${name}: ${effect}`);
    lines.push(
      `  when: ${rule.conditions.length === 0 ? 'always (every request for this scope)' : rule.conditions.join('; ')}`,
    );
    if (rule.accounts.length > 0) {
      const accounts = rule.accounts.map((a) => {
        const who = shownAccount(a.account);
        const own =
          a.granted.length === rule.granted.length
            ? []
            : [a.granted.length === 0 ? 'denied' : `only ${a.granted.join(',')}`];
        const notes = [...a.when, ...own];
        return notes.length === 0 ? who : `${who} (${notes.join('; ')})`;
      });
      lines.push(`  static accounts: ${accounts.join(', ')}`);
    }
    if (rule.others !== null) lines.push(`  ${rule.othersFrom.join(', ')} accounts: ${rule.others}`);
  }
  lines.push('');
  lines.push(
    report.fallback === 'ext_authz'
      ? 'a request no rule matches goes to ext_authz'
      : 'a request no rule matches is denied (deny by default)',
  );
  if (report.undecided.length > 0) {
    const names = report.undecided.map(shownAccount);
    lines.push(`static accounts no rule always decides for: ${names.join(', ')}`);
  }
  if (report.refusedNames.length > 0) {
    lines.push(
      `static accounts that can never log in, not listed above (${REFUSED_ACCOUNT_NAME}): ${report.refusedNames.map(quoteAccount).join(', ')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
