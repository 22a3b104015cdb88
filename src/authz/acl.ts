import { ConfigError, ConfigErrors, formatPath } from '../core/errors.js';
import { sortedUnique } from '../core/sorted.js';
import { parseIpMatcher, type IpMatcher } from './ip.js';
import {
  compilePattern,
  PatternCache,
  REQUEST_FIELDS,
  oddSegment,
  type Captures,
  type Pattern,
  type Unmatchable,
  type Resolve,
  type RequestField,
  type ValueTest,
} from './pattern.js';
import type { AclRuleConfig, AuthzDecision, AuthzRequest, Labels } from './types.js';

/** A finding about a rule that does not stop the config from loading (for `regauth validate`). */
export interface AclWarning {
  /** YAML path, e.g. `acl[2].match.name`. */
  readonly path: string;
  readonly message: string;
}

/** What tooling (`regauth check`, `regauth validate`) can learn about one compiled rule. */
export interface AclRuleInfo {
  /** 0-based position in the ACL: the `rule` of the decisions it makes. */
  readonly index: number;
  /** YAML path of the rule, e.g. `acl[3]`. */
  readonly path: string;
  readonly comment: string | undefined;
  /** The rule as written. */
  readonly match: AclRuleConfig['match'];
  readonly actions: readonly string[];
  /** E.g. an unknown action, or a `${account:2}` that can never resolve so the rule never matches. */
  readonly warnings: readonly AclWarning[];
}

/** An ACL compiled at load: frozen, safe to share between requests. */
export interface CompiledAcl {
  readonly rules: readonly AclRuleInfo[];
  /**
   * Decides one scope (docs/acl.md "Rules"): the first rule whose every match field
   * matches decides and grants the requested actions it allows (all of them for `["*"]`,
   * none for `[]`); no matching rule grants nothing (`rule: null`). Never throws.
   */
  authorize(request: AuthzRequest): AuthzDecision;
  /**
   * For tooling (`regauth who-can`, `regauth replay`): how every rule treats a request of which
   * some fields are unknown (absent from `request`). Uses the same compiled checks as
   * `authorize`: a rule is `no` when a check on known fields fails, `yes` when every check is on
   * known fields and passes, else `depends` on the match keys listed in `conditions`.
   */
  explain(request: PartialAuthzRequest): RuleExplanation[];
  /**
   * The `names`, in their order, on which `authorize` grants `action` to one caller: those for
   * which `authorize({ ...request, name, actions: [action] }).granted` is not empty, decided in
   * one pass (the filtered catalog asks this for 10,000 names at once). Everything that does not
   * depend on the name (account, type, service, address, labels, placeholders) is decided once
   * per rule, then each name is tested only against the name patterns of the rules that can
   * still apply, in rule order. Never throws.
   */
  filterNames(request: NamelessRequest, action: string, names: readonly string[]): string[];
}

/** An AuthzRequest for many names and one action (CompiledAcl.filterNames). */
export type NamelessRequest = Omit<AuthzRequest, 'name' | 'actions'>;

/** An AuthzRequest whose account, service, client address or labels may be unknown (absent). */
export interface PartialAuthzRequest {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
  readonly account?: string;
  readonly service?: string;
  /** null: the request had no client address (known); absent: unknown. */
  readonly ip?: string | null;
  readonly labels?: Labels;
}

/** A match key of a rule: `account`, `type`, `name`, `service`, `ip` or `labels.KEY`. */
export type MatchKey = RequestField | 'ip' | `labels.${string}`;

/** How one rule treats a partially known request (CompiledAcl.explain). */
export interface RuleExplanation {
  readonly index: number;
  readonly match: 'yes' | 'no' | 'depends';
  /** For `depends`: the match keys whose outcome needs the unknown fields, in rule order. */
  readonly conditions: readonly MatchKey[];
  /**
   * The requested actions the rule grants when it decides (`[]` for a deny). For `depends`, at
   * most that: should the fields not given bring an empty placeholder value, it denies instead.
   */
  readonly granted: string[];
}

export interface CompileAclOptions {
  /** How many globs and regexes built from placeholders to keep (default 10,000). */
  readonly cacheSize?: number;
  /**
   * Index rules by the literal prefix of their account, type, name or service pattern
   * (default true), so a large ACL only tries the rules that can match. The decisions are the
   * same either way; false tries every rule in order.
   */
  readonly index?: boolean;
}

/** The actions the registry knows; others are accepted with a warning (docs/acl.md "Actions"). */
export const KNOWN_ACTIONS: readonly string[] = ['pull', 'push', 'delete', '*'];

/**
 * The most label combinations one rule tries for one scope (`${labels:a}/${labels:b}` tries
 * every pair of values). Beyond it the rule denies the scope, as `actions: []` would: it
 * must not be skipped, or a deny rule could be dodged by having many labels.
 */
export const MAX_LABEL_COMBINATIONS = 10_000;

/** The grammar of request actions (src/request/scope.ts), without `*`. */
export const ACTION = /^[a-z][a-z0-9_-]*$/;

type Check =
  | {
      readonly kind: 'field';
      readonly field: RequestField;
      readonly pattern: Pattern;
      /** Whether another check uses this field's `${field:N}` captures. */
      readonly captures: boolean;
    }
  | { readonly kind: 'labels'; readonly key: string; readonly pattern: Pattern };

interface Rule {
  readonly info: AclRuleInfo;
  readonly ip: IpMatcher | undefined;
  /** Checks without placeholders, cheapest first: decided once per scope. */
  readonly fixed: readonly Check[];
  /** Checks with placeholders, capture producers before their users: tried per label combination. */
  readonly dynamic: readonly Check[];
  /** Distinct `${labels:X}` names in `dynamic`. */
  readonly labelKeys: readonly string[];
  /**
   * A `${labels:X}` read by two of its checks: one value for both here, where docker_auth tries
   * the values for each field on its own (Evaluation.matches).
   */
  readonly sharesLabels: boolean;
  readonly usesCaptures: boolean;
  /** `all` for `["*"]`; otherwise the allowed actions (empty for an explicit deny). */
  readonly grant: 'all' | ReadonlySet<string>;
  /** The checks split by whether they read the name; undefined when that cannot be done. */
  readonly byName: NameSplit | undefined;
}

/**
 * A rule's checks for CompiledAcl.filterNames: those that do not read the name are decided once
 * per caller, `match.name` is then bound (its placeholders resolved) and tested per name. Only
 * for rules where no placeholder reads the name (`${name}`, `${name:N}`); the others are
 * decided per name, as `authorize` does.
 */
interface NameSplit {
  /** Fixed checks other than `match.name`, cheapest first. */
  readonly otherFixed: readonly Check[];
  /** Dynamic checks other than `match.name`, in the order of `Rule.dynamic`. */
  readonly otherDynamic: readonly Check[];
  /** `match.name` when it has no placeholders, else nothing. */
  readonly nameFixed: readonly Check[];
  /** `match.name` when it has placeholders, else nothing. */
  readonly nameDynamic: readonly Check[];
}

/** One rule made ready for one caller's names (CompiledAcl.filterNames). */
type Step =
  /** The rule grants (or denies) the action to the names `test` accepts; every name when undefined. */
  | { readonly kind: 'grant'; readonly test: ValueTest | undefined }
  | { readonly kind: 'deny'; readonly test: ValueTest | undefined }
  /** The rule reads the name through a placeholder: decided per name. */
  | { readonly kind: 'per-name'; readonly rule: Rule; readonly grants: boolean };

/**
 * Compiles ACL rules once, at load: regexes, globs and CIDRs are built here, never per request.
 * `basePath` prefixes the YAML paths in errors. Throws ConfigErrors listing every problem
 * (`acl[3].match.name: invalid regular expression /(/: Unterminated group`).
 */
export function compileAcl(
  rules: readonly AclRuleConfig[],
  basePath = 'acl',
  options: CompileAclOptions = {},
): CompiledAcl {
  const errors: ConfigError[] = [];
  // Patterns are immutable: rules that repeat one (`${account}/**`) share its compilation.
  const patterns = new Map<string, Pattern>();
  const compile = (source: string, labels = false) => {
    const key = `${labels ? 'l' : 'f'}${source}`;
    let pattern = patterns.get(key);
    if (!pattern) patterns.set(key, (pattern = compilePattern(source, labels)));
    return pattern;
  };
  const compiled = rules.map((config, i) => compileRule(config, i, `${basePath}[${i}]`, compile, errors));
  if (errors.length > 0) throw new ConfigErrors(errors);
  const ready = compiled as Rule[];
  const cache = new PatternCache(options.cacheSize);
  const index = buildIndex(ready, options.index ?? true);

  return Object.freeze({
    rules: Object.freeze(ready.map((r) => r.info)),
    authorize(request: AuthzRequest): AuthzDecision {
      const evaluation = new Evaluation(request, cache);
      for (const i of index.candidates(request)) {
        const rule = ready[i]!;
        const outcome = evaluation.matches(rule);
        if (outcome === 'no') continue;
        const granted = outcome === 'yes' ? grantedActions(rule.grant, request.actions) : [];
        const comment = rule.info.comment;
        return comment === undefined ? { granted, rule: i } : { granted, rule: i, comment };
      }
      return { granted: [], rule: null };
    },
    explain(request: PartialAuthzRequest): RuleExplanation[] {
      const full: AuthzRequest = {
        account: request.account ?? '',
        type: request.type,
        name: request.name,
        service: request.service ?? '',
        ip: request.ip ?? null,
        labels: request.labels ?? {},
        actions: request.actions,
      };
      const known = (field: RequestField | 'labels' | 'ip') =>
        field === 'type' || field === 'name' || request[field] !== undefined;
      const evaluation = new Evaluation(full, cache);
      return ready.map((rule, i) => {
        const { match, conditions, deny } = evaluation.partial(rule, known);
        // Beyond MAX_LABEL_COMBINATIONS the rule decides and grants nothing (as in authorize).
        const granted = deny ? [] : grantedActions(rule.grant, request.actions);
        return { index: i, match, conditions, granted };
      });
    },
    filterNames(request: NamelessRequest, action: string, names: readonly string[]): string[] {
      return filterNames(ready, cache, request, action, names);
    },
  });
}

/**
 * CompiledAcl.filterNames. First-match order without trying every rule on every name: a name
 * is granted when the first `grant` step accepting it comes before every `deny` step accepting
 * it, so the deny steps are tried only on names that some grant step accepts.
 */
function filterNames(
  rules: readonly Rule[],
  cache: PatternCache,
  request: NamelessRequest,
  action: string,
  names: readonly string[],
): string[] {
  const actions = [action];
  const caller = new Evaluation({ ...request, name: '', actions }, cache);
  const steps: Step[] = [];
  for (const rule of rules) {
    const grants = rule.grant === 'all' || rule.grant.has(action);
    if (!rule.byName) {
      steps.push({ kind: 'per-name', rule, grants });
      continue;
    }
    const bound = caller.bindName(rule, rule.byName);
    if (!bound) continue;
    if (bound === 'per-name') {
      steps.push({ kind: 'per-name', rule, grants });
      continue;
    }
    // Matched only through an empty value, or beyond MAX_LABEL_COMBINATIONS, the rule decides
    // and grants nothing (as in authorize).
    for (const b of bound) steps.push({ kind: grants && !b.deny ? 'grant' : 'deny', test: b.test });
    // It decides every name that reaches it: the rules after it decide none.
    if (bound.some((b) => !b.test)) break;
  }
  const denies = steps.flatMap((step, i) => (step.kind === 'deny' ? [i] : []));
  /** Whether a deny step before step `end` accepts `name`. */
  const deniedBefore = (end: number, name: string) => {
    for (const i of denies) {
      if (i > end) return false;
      const { test } = steps[i] as { test: ValueTest | undefined };
      if (!test || test(name)) return true;
    }
    return false;
  };

  const out: string[] = [];
  for (const name of names) {
    // A bound test cannot read a name with a dot or empty segment (pattern.ts oddSegment; a repository
    // name never holds one): decided alone, as authorize decides it.
    if (oddSegment(name)) {
      if (grantsAlone(rules, cache, request, action, name)) out.push(name);
      continue;
    }
    let perName: Evaluation | undefined;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      if (step.kind === 'deny') continue;
      if (step.kind === 'grant') {
        if (step.test && !step.test(name)) continue;
        if (!deniedBefore(i, name)) out.push(name);
        break;
      }
      perName ??= new Evaluation({ ...request, name, actions }, cache);
      const outcome = perName.matches(step.rule);
      if (outcome === 'no') continue;
      // A deny here decides whether or not an earlier deny step accepts the name.
      if (outcome === 'yes' && step.grants && !deniedBefore(i, name)) out.push(name);
      break;
    }
  }
  return out;
}

/** Whether the rules grant `action` on `name`, tried one by one as `authorize` tries them. */
function grantsAlone(
  rules: readonly Rule[],
  cache: PatternCache,
  request: NamelessRequest,
  action: string,
  name: string,
): boolean {
  const evaluation = new Evaluation({ ...request, name, actions: [action] }, cache);
  for (const rule of rules) {
    const outcome = evaluation.matches(rule);
    if (outcome === 'no') continue;
    return outcome === 'yes' && (rule.grant === 'all' || rule.grant.has(action));
  }
  return false;
}

/** What a rule decides for the names `test` accepts (every name when undefined): Evaluation.bindName. */
interface BoundName {
  readonly test: ValueTest | undefined;
  /** It decides and grants nothing (an empty placeholder value, too many label combinations). */
  readonly deny: boolean;
}

/** A match pattern compiled at load, with the field or label it applies to and its YAML path. */
interface CompiledField {
  readonly field?: RequestField;
  readonly key?: string;
  readonly pattern: Pattern;
  readonly path: string;
}

/** Reports a config error at a YAML path. */
type Fail = (at: string, message: string, cause?: unknown) => void;

/**
 * Compiles one rule: its match patterns and address, the placeholders that take captures, its
 * actions, then the order of its checks. Adds every problem to `errors` and returns undefined
 * when there is one.
 */
function compileRule(
  config: AclRuleConfig,
  index: number,
  path: string,
  compile: (source: string, labels?: boolean) => Pattern,
  errors: ConfigError[],
): Rule | undefined {
  const errorCount = errors.length;
  const warnings: AclWarning[] = [];
  const fail: Fail = (at, message, cause) => errors.push(new ConfigError(at, message, { cause }));

  const compiled = compileMatchPatterns(config.match, path, compile, fail);
  const ip = compileIp(config.match.ip, `${path}.match.ip`, fail);
  const captured = capturedFields(compiled, fail, warnings);
  const grant = compileActions(config.actions, `${path}.actions`, fail, warnings);
  const { fixed, dynamic } = orderChecks(compiled, captured, `${path}.match`, fail);
  if (errors.length > errorCount) return undefined;

  return {
    info: Object.freeze({
      index,
      path,
      comment: config.comment,
      match: config.match,
      actions: config.actions,
      warnings: Object.freeze(warnings),
    }),
    ip,
    fixed,
    dynamic,
    labelKeys: labelKeysOf(dynamic),
    sharesLabels: sharesLabels(dynamic),
    // Any `${field:N}`, even one that never resolves: captures of an earlier rule must not leak into it.
    usesCaptures: compiled.some((c) => c.pattern.placeholders.some((p) => p.kind === 'group')),
    grant: grant ?? new Set(),
    byName: splitByName(fixed, dynamic),
  };
}

/** The patterns of `match.account`, `type`, `name`, `service` and `labels`, in that order. */
function compileMatchPatterns(
  match: AclRuleConfig['match'],
  path: string,
  compile: (source: string, labels?: boolean) => Pattern,
  fail: Fail,
): CompiledField[] {
  const compiled: CompiledField[] = [];
  const attempt = (at: string, source: string, labels = false) => {
    try {
      return compile(source, labels);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      fail(at, err.message, err);
      return undefined;
    }
  };
  for (const field of REQUEST_FIELDS) {
    const source = match[field];
    if (source === undefined) continue;
    const at = `${path}.match.${field}`;
    const pattern = attempt(at, source);
    if (pattern) compiled.push({ field, pattern, path: at });
  }
  for (const [key, source] of Object.entries(match.labels ?? {})) {
    const at = `${path}.match.${formatPath(['labels', key])}`;
    // docker_auth expands no `${labels:…}` in a labels pattern (its captures it does).
    const pattern = attempt(at, source, true);
    if (pattern) compiled.push({ key, pattern, path: at });
  }
  return compiled;
}

/** `match.ip`, parsed once; undefined when absent or invalid (then reported). */
function compileIp(source: string | undefined, path: string, fail: Fail): IpMatcher | undefined {
  if (source === undefined) return undefined;
  try {
    return parseIpMatcher(source);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    fail(path, err.message, err);
    return undefined;
  }
}

/**
 * The fields whose `${field:N}` captures another check uses. A placeholder that can never
 * resolve (no such field, not a regex, no such group) is a warning: the rule never matches.
 * One that names its own field is an error.
 */
function capturedFields(
  compiled: readonly CompiledField[],
  fail: Fail,
  warnings: AclWarning[],
): Set<RequestField> {
  const producers = new Map(compiled.flatMap((c) => (c.field ? [[c.field, c] as const] : [])));
  const captured = new Set<RequestField>();
  // The captures docker_auth fills: those it finds in the account, type, name and service
  // patterns, in those patterns and in labels patterns alike.
  const inFields = new Set(compiled.flatMap((c) => (c.field ? dockerAuthCaptures(c.pattern.source) : [])));
  for (const c of compiled) {
    for (const p of c.pattern.placeholders) {
      if (p.kind !== 'group') continue;
      const producer = producers.get(p.field);
      const never = `${p.text} can never resolve, so this rule never matches`;
      if (p.field === c.field) {
        fail(c.path, `${p.text} refers to this field's own captures; use it in another field`);
      } else if (!producer) {
        warnings.push({ path: c.path, message: `${never}: match.${p.field} is absent` });
      } else if (producer.pattern.kind !== 'regex') {
        warnings.push({ path: c.path, message: `${never}: match.${p.field} is not a /regex/` });
      } else if (p.group > producer.pattern.groups) {
        const has = producer.pattern.groups;
        warnings.push({
          path: c.path,
          message: `${never}: match.${p.field} has ${has} capture group${has === 1 ? '' : 's'}`,
        });
      } else {
        captured.add(p.field);
        // Resolved here; docker_auth fills captures from group 1 that the account, type, name or
        // service patterns use (a capture it skips stays literal text, and its rule never matched).
        const skipped =
          p.group === 0
            ? 'group 0 (the whole match)'
            : inFields.has(p.text)
              ? undefined
              : c.field === undefined
                ? 'a capture no account, type, name or service pattern takes as docker_auth reads them'
                : `after an earlier \`\${\` in this pattern (docker_auth reads from there to \`:${p.group}}\` as one name)`;
        if (skipped) {
          warnings.push({
            path: c.path,
            message: `${p.text} is ${skipped}, which docker_auth never fills: its rule never matched there, and here it matches`,
          });
        } else if (producer.pattern.placeholders.length > 0) {
          // docker_auth compiles the producer as written: `${…}` is an end of text, then text.
          warnings.push({
            path: c.path,
            message: `${p.text} is taken from match.${p.field}, which holds a placeholder: docker_auth matches that regex as written (a \`\${\` there is an end of text, then text), so it fills this capture only through a part of the regex without the placeholder, where here the placeholder is filled first`,
          });
        }
      }
    }
  }
  return captured;
}

/**
 * The `${field:N}` docker_auth fills in one account, type, name or service pattern, as written:
 * it searches `\$\{(.+?):(\d+)\}` (auth_server/authz/acl.go), lazily from each `${` to the first
 * `:N}` after it, so after an earlier `${…}` (`${labels:team}/${account:1}`) it reads
 * `labels:team}/${account` as the field's name, finds no such field and skips the capture.
 */
function dockerAuthCaptures(source: string): string[] {
  return [...source.matchAll(/\$\{([^\n]+?):(\d+)\}/g)]
    .filter((m) => (REQUEST_FIELDS as readonly string[]).includes(m[1]!))
    .map((m) => m[0]);
}

/**
 * The rule's checks: those without placeholders cheapest first (decided once per scope), those
 * with placeholders after the checks whose captures they use. Reports captures that depend on
 * each other at `path`.
 */
function orderChecks(
  compiled: readonly CompiledField[],
  captured: ReadonlySet<RequestField>,
  path: string,
  fail: Fail,
): { fixed: Check[]; dynamic: Check[] } {
  const checks: Check[] = compiled.map((c) =>
    c.field
      ? { kind: 'field', field: c.field, pattern: c.pattern, captures: captured.has(c.field) }
      : { kind: 'labels', key: c.key!, pattern: c.pattern },
  );
  const fixed = checks.filter((c) => c.pattern.placeholders.length === 0).sort((a, b) => cost(a) - cost(b));
  const dynamic = orderByCaptures(
    checks.filter((c) => c.pattern.placeholders.length > 0),
    (fields) =>
      fail(path, `the captures of ${fields.map((f) => `match.${f}`).join(' and ')} depend on each other`),
  );
  return { fixed, dynamic };
}

/** Distinct `${labels:X}` names in `dynamic`, in order of appearance. */
function labelKeysOf(dynamic: readonly Check[]): string[] {
  const keys = dynamic.flatMap((c) =>
    c.pattern.placeholders.flatMap((p) => (p.kind === 'label' ? [p.label] : [])),
  );
  return [...new Set(keys)];
}

/** Whether two checks of `dynamic` read the same `${labels:X}`. */
function sharesLabels(dynamic: readonly Check[]): boolean {
  const seen = new Set<string>();
  for (const check of dynamic) {
    const keys = new Set(check.pattern.placeholders.flatMap((p) => (p.kind === 'label' ? [p.label] : [])));
    for (const key of keys) if (seen.has(key)) return true;
    for (const key of keys) seen.add(key);
  }
  return false;
}

/** The checks split for CompiledAcl.filterNames; undefined when a placeholder reads the name. */
function splitByName(fixed: readonly Check[], dynamic: readonly Check[]): NameSplit | undefined {
  const readsName = (c: Check) =>
    c.pattern.placeholders.some((p) => p.kind !== 'label' && p.field === 'name');
  if (fixed.some(readsName) || dynamic.some(readsName)) return undefined;
  const isName = (c: Check) => c.kind === 'field' && c.field === 'name';
  return {
    otherFixed: fixed.filter((c) => !isName(c)),
    otherDynamic: dynamic.filter((c) => !isName(c)),
    nameFixed: fixed.filter(isName),
    nameDynamic: dynamic.filter(isName),
  };
}

/** `["*"]` is `all`; otherwise the set of actions, each checked against the action grammar. */
function compileActions(
  actions: readonly string[],
  path: string,
  fail: Fail,
  warnings: AclWarning[],
): 'all' | ReadonlySet<string> | undefined {
  if (actions.includes('*')) {
    if (actions.some((a) => a !== '*')) {
      fail(path, '"*" cannot be combined with other actions; write ["*"] alone, or list the actions');
      return undefined;
    }
    // docker_auth grants everything for exactly one "*"; a list of several it intersects with
    // the request, granting only the catalog's own "*".
    if (actions.length > 1) {
      fail(
        path,
        '"*" is written more than once; write ["*"] once (docker_auth read a repeated "*" as the action "*" alone, not every action)',
      );
      return undefined;
    }
    return 'all';
  }
  let ok = true;
  actions.forEach((action, j) => {
    if (!ACTION.test(action)) {
      fail(
        `${path}[${j}]`,
        `invalid action ${JSON.stringify(action)}; expected pull, push, delete, "*" or another lowercase word`,
      );
      ok = false;
    } else if (!KNOWN_ACTIONS.includes(action)) {
      warnings.push({
        path: `${path}[${j}]`,
        message: `unknown action ${JSON.stringify(action)}; the registry uses pull, push, delete and "*"`,
      });
    }
  });
  return ok ? new Set(actions) : undefined;
}

/** Equality first, then globs and regexes, then labels (several values each). */
function cost(check: Check): number {
  if (check.kind === 'labels') return 2;
  return check.pattern.literal !== undefined ? 0 : 1;
}

/**
 * Orders checks with placeholders so that a field's captures are taken before a check that
 * uses them (`name: ${account:1}/*` after a dynamic `account` regex). Captures of checks
 * without placeholders are taken earlier anyway. Reports a cycle through `cycle`.
 */
function orderByCaptures(checks: Check[], cycle: (fields: RequestField[]) => void): Check[] {
  const dynamicFields = new Set(checks.flatMap((c) => (c.kind === 'field' ? [c.field] : [])));
  const needs = (c: Check) =>
    c.pattern.placeholders.flatMap((p) =>
      p.kind === 'group' && dynamicFields.has(p.field) && !(c.kind === 'field' && p.field === c.field)
        ? [p.field]
        : [],
    );
  const ordered: Check[] = [];
  const done = new Set<RequestField>();
  let rest = checks;
  while (rest.length > 0) {
    const ready = rest.filter((c) => needs(c).every((f) => done.has(f)));
    if (ready.length === 0) {
      cycle(rest.flatMap((c) => (c.kind === 'field' ? [c.field] : [])));
      return ordered;
    }
    for (const c of ready) if (c.kind === 'field') done.add(c.field);
    ordered.push(...ready);
    rest = rest.filter((c) => !ready.includes(c));
  }
  // Labels checks only consume placeholders; keep them last so that every producer ran.
  return [...ordered.filter((c) => c.kind === 'field'), ...ordered.filter((c) => c.kind === 'labels')];
}

/** The user's values for one label; `Object.hasOwn` keeps `${labels:constructor}` off the prototype. */
function labelValues(labels: Labels, key: string): readonly string[] {
  const values = Object.hasOwn(labels, key) ? labels[key] : undefined;
  return Array.isArray(values) ? values : [];
}

/** A test passed when every one of `tests` passes; undefined (every value) for none. */
function allOf(tests: readonly ValueTest[]): ValueTest | undefined {
  if (tests.length <= 1) return tests[0];
  return (value) => {
    for (const test of tests) if (!test(value)) return false;
    return true;
  };
}

/** A test passed when one of `tests` passes. */
function anyOf(tests: readonly ValueTest[]): ValueTest {
  if (tests.length === 1) return tests[0]!;
  return (value) => {
    for (const test of tests) if (test(value)) return true;
    return false;
  };
}

function grantedActions(grant: 'all' | ReadonlySet<string>, requested: readonly string[]): string[] {
  return sortedUnique(requested.filter((action) => grant === 'all' || grant.has(action)));
}

/** Whether checks pass: `empty` when only with an empty placeholder value (Evaluation.resolve). */
type Outcome = 'yes' | 'no' | 'empty';

/** Matching state for one scope: the request, captures of the rule being tried, and the current label combination. */
class Evaluation {
  readonly #request: AuthzRequest;
  readonly #cache: PatternCache;
  #captures: Partial<Record<RequestField, Captures>> = {};
  readonly #labels = new Map<string, string>();

  constructor(request: AuthzRequest, cache: PatternCache) {
    this.#request = request;
    this.#cache = cache;
  }

  /** Whether a placeholder of the combination being tried resolved to an empty value. */
  #usedEmpty = false;

  /** Readies the evaluation for `rule`: its own captures. */
  #begin(rule: Rule): void {
    if (rule.usesCaptures) this.#captures = {};
    this.#usedEmpty = false;
  }

  /**
   * A placeholder's value, or undefined (the rule does not match) when it has none: a label the
   * account does not have, a capture group out of range. An empty value (the anonymous account,
   * a request without a service, an empty label value, a group that took no part in the match,
   * which Go reports as "") is used as it is, as docker_auth does, and noted: a rule that
   * matches with one in any placeholder grants nothing (`empty`), so `${account}*` never becomes
   * `*` for an anonymous request, and no later rule gets to grant what docker_auth's match would
   * decide.
   */
  readonly resolve: Resolve = (p) => {
    let value: string | undefined;
    switch (p.kind) {
      case 'value':
        value = this.#request[p.field];
        break;
      case 'group': {
        const captures = this.#captures[p.field];
        // In range and absent: a group that took no part in the match.
        if (captures !== undefined && p.group < captures.length) value = captures[p.group] ?? '';
        break;
      }
      case 'label':
        value = this.#labels.get(p.label);
        break;
    }
    if (value === '') this.#usedEmpty = true;
    return value;
  };

  /**
   * A pattern the values make unmatchable as written (Unmatchable) counts as matching, and the
   * rule, should it match, decides and grants nothing, as with an empty value.
   */
  readonly #unmatchable: Unmatchable = () => {
    this.#usedEmpty = true;
  };

  /** One label value the pattern could not match as written (#passes tries each). */
  #valueUnmatchable = false;
  readonly #flagValue: Unmatchable = () => {
    this.#valueUnmatchable = true;
  };

  /**
   * `too-many`: the rule has more label combinations than MAX_LABEL_COMBINATIONS. `empty`: it
   * matches, but only with an empty value in a placeholder (see resolve). Either way it decides
   * and grants nothing.
   */
  matches(rule: Rule): Outcome | 'too-many' {
    this.#begin(rule);
    for (const check of rule.fixed) if (!this.#passes(check)) return 'no';
    // A check without placeholders passes as `empty` only when it could not match its value as
    // written (Unmatchable: a dot or empty segment): the rule then decides and grants nothing.
    const unmatchable = this.#usedEmpty;
    if (rule.ip && (this.#request.ip === null || !rule.ip.contains(this.#request.ip))) return 'no';
    if (rule.dynamic.length === 0) return unmatchable ? 'empty' : 'yes';
    // The same placeholder takes the same value wherever it appears in the rule.
    const outcome = this.#tryCombinations(rule.labelKeys, () => this.#passAll(rule.dynamic));
    if (outcome === 'no' && this.#matchesFieldByField(rule, rule.dynamic)) return 'empty';
    return unmatchable && outcome === 'yes' ? 'empty' : outcome;
  }

  /**
   * Whether `checks` of a rule that reads a label in two of them pass with each check trying the
   * label's values on its own, as docker_auth matches each field: a rule it matches so and regauth
   * does not (one value for both) decides and grants nothing, so that a deny written so holds
   * (docs/acl.md "Differences from docker_auth").
   */
  #matchesFieldByField(rule: Rule, checks: readonly Check[]): boolean {
    return rule.sharesLabels && this.#passByParts(checks, false) !== 'no';
  }

  /**
   * Tries `attempt` with #labels set to each combination of the account's values for `keys`
   * (once when there are none): `no` when a key has no values, `too-many` past
   * MAX_LABEL_COMBINATIONS; else `yes` at the first combination that passes without an empty
   * value (it wins over one with), `empty` when one passed only with one, `no` when none did.
   */
  #tryCombinations(keys: readonly string[], attempt: () => Outcome): Outcome | 'too-many' {
    if (keys.length === 0) return attempt();
    const values = keys.map((k) => [...new Set(labelValues(this.#request.labels, k))]);
    if (values.some((v) => v.length === 0)) return 'no';
    if (values.reduce((n, v) => n * v.length, 1) > MAX_LABEL_COMBINATIONS) return 'too-many';
    const at = keys.map(() => 0);
    let empty = false;
    for (;;) {
      keys.forEach((k, i) => this.#labels.set(k, values[i]![at[i]!]!));
      const outcome = attempt();
      if (outcome === 'yes') return 'yes';
      if (outcome === 'empty') empty = true;
      let i = keys.length - 1;
      while (i >= 0 && ++at[i]! === values[i]!.length) at[i--] = 0;
      if (i < 0) return empty ? 'empty' : 'no';
    }
  }

  /**
   * `matches` with the name left open, for a rule whose checks split by name (its request's name
   * is never read): undefined when the rule matches no name; else what it decides, in order: the
   * names it grants to (`deny` false), then those it matches only through an empty placeholder
   * value, or beyond MAX_LABEL_COMBINATIONS, and so denies (`deny` true). Each `test` is the test
   * a name must pass (undefined: every name). Label combinations are all tried: each one that
   * passes adds the name patterns bound with its values as an alternative. `per-name` when bound
   * tests cannot tell what the rule decides: a label read by two of its checks (matched field by
   * field too), or a value docker_auth would read as pattern text (Pattern.bind); each name is
   * then decided with `matches`.
   */
  bindName(rule: Rule, split: NameSplit): BoundName[] | 'per-name' | undefined {
    // A name pattern linked to another check by a capture and a shared label: its field-by-field
    // match (#matchesFieldByField) is not split by name.
    const nameCheck = split.nameDynamic[0];
    if (rule.sharesLabels && nameCheck?.pattern.placeholders.some((p) => p.kind === 'group'))
      return 'per-name';
    this.#begin(rule);
    for (const check of split.otherFixed) if (!this.#passes(check)) return undefined;
    // As in `matches`: a check without placeholders that could not match its value as written.
    const unmatchable = this.#usedEmpty;
    if (rule.ip && (this.#request.ip === null || !rule.ip.contains(this.#request.ip))) return undefined;
    const fixed = split.nameFixed.flatMap(
      (c) => c.pattern.bind(this.resolve, this.#cache, this.#unmatchable) ?? [],
    );
    if (fixed.length < split.nameFixed.length) return undefined;
    if (rule.dynamic.length === 0) return [{ test: allOf(fixed), deny: unmatchable }];

    /** Each passing combination's name tests, by whether it went through an empty value. */
    const alternatives: { full: ValueTest[][]; empty: ValueTest[][] } = { full: [], empty: [] };
    const bindDynamic = () => {
      this.#usedEmpty = false;
      for (const check of split.otherDynamic) if (!this.#passes(check)) return;
      const tests: ValueTest[] = [];
      // docker_auth's reading of a name pattern, where it differs: names only it accepts are
      // decided, granting nothing (Pattern.bind's `otherwise`).
      const theirs: ValueTest[] = [];
      let differs = false;
      for (const check of split.nameDynamic) {
        let other: ValueTest | undefined;
        const test = check.pattern.bind(this.resolve, this.#cache, this.#unmatchable, (t) => (other = t));
        if (!test) return;
        tests.push(test);
        theirs.push(other ?? test);
        differs ||= other !== undefined;
      }
      (this.#usedEmpty || unmatchable ? alternatives.empty : alternatives.full).push(tests);
      if (differs) alternatives.empty.push(theirs);
    };
    // As in `matches`, but every combination is tried: the attempt collects, and never stops it.
    const tried = this.#tryCombinations(rule.labelKeys, () => {
      bindDynamic();
      return 'no';
    });
    if (tried === 'too-many') return [{ test: allOf(fixed), deny: true }];
    // A label read by two checks: the names a field-by-field match accepts (the other checks each
    // passing with some values, the name pattern with its own) are decided, granting nothing, as
    // `matches` decides them; those the shared values accept come first, above.
    if (rule.sharesLabels && this.#passByParts(split.otherDynamic, false) !== 'no') {
      const own: ValueTest[] = [];
      for (const check of split.nameDynamic) {
        const keys = check.pattern.placeholders.flatMap((p) => (p.kind === 'label' ? [p.label] : []));
        const tests: ValueTest[] = [];
        this.#tryCombinations([...new Set(keys)], () => {
          const test = check.pattern.bind(this.resolve, this.#cache, this.#unmatchable, (t) => tests.push(t));
          if (test) tests.push(test);
          return 'no';
        });
        own.push(anyOf(tests));
      }
      alternatives.empty.push(own);
    }
    const bound = (tests: ValueTest[][]): ValueTest | undefined =>
      // An alternative without name patterns accepts every name.
      tests.some((t) => t.length === 0)
        ? allOf(fixed)
        : allOf([...fixed, anyOf(tests.map((t) => allOf(t)!))]);
    const steps: BoundName[] = [];
    if (alternatives.full.length > 0) steps.push({ test: bound(alternatives.full), deny: false });
    if (alternatives.empty.length > 0) steps.push({ test: bound(alternatives.empty), deny: true });
    return steps.length > 0 ? steps : undefined;
  }

  /**
   * `matches` for a request of which only the fields `known` says are known: the checks that read
   * only known fields are evaluated (one with label placeholders passes when some combination
   * does), the others become conditions.
   */
  partial(
    rule: Rule,
    known: (field: RequestField | 'labels' | 'ip') => boolean,
  ): { match: 'yes' | 'no' | 'depends'; conditions: MatchKey[]; deny?: true } {
    const checks = [...rule.fixed, ...rule.dynamic];
    /**
     * What a check reads: its field, its placeholders' fields, and for a capture (`${account:1}`)
     * whatever the check producing it reads: without that check's match there is no capture.
     */
    const reads = (check: Check, seen = new Set<Check>()): (RequestField | 'labels')[] => {
      seen.add(check);
      const fields: (RequestField | 'labels')[] = [check.kind === 'field' ? check.field : 'labels'];
      for (const p of check.pattern.placeholders) {
        fields.push(p.kind === 'label' ? 'labels' : p.field);
        if (p.kind !== 'group') continue;
        const producer = checks.find((c) => c.kind === 'field' && c.field === p.field);
        if (producer !== undefined && !seen.has(producer)) fields.push(...reads(producer, seen));
      }
      return fields;
    };
    if (checks.every((c) => reads(c).every(known)) && (!rule.ip || known('ip'))) {
      const outcome = this.matches(rule);
      if (outcome === 'too-many' || outcome === 'empty') return { match: 'yes', conditions: [], deny: true };
      return { match: outcome, conditions: [] };
    }
    this.#begin(rule);
    const conditions = new Set<MatchKey>();
    /**
     * Should the rule match, it denies: a known check passed only with an empty value, or the
     * account's labels make more combinations than MAX_LABEL_COMBINATIONS (as in `matches`).
     */
    let deny = known('labels') && this.#combinations(rule.labelKeys) > MAX_LABEL_COMBINATIONS;
    const decidable: Check[] = [];
    for (const check of checks) {
      const key: MatchKey = check.kind === 'field' ? check.field : `labels.${check.key}`;
      if (reads(check).every(known)) decidable.push(check);
      else conditions.add(key);
    }
    // As in `matches`: the fixed checks once, first; past MAX_LABEL_COMBINATIONS the rule decides
    // (and denies) as soon as they and the address pass, whatever its dynamic checks say.
    for (const check of decidable) {
      if (check.pattern.placeholders.length === 0 && !this.#passes(check))
        return { match: 'no', conditions: [] };
    }
    // As in `matches`: one of them could not match its value as written (Unmatchable); the rule
    // then denies, should its other checks pass.
    const unmatchable = this.#usedEmpty;
    if (deny) {
      for (const check of rule.dynamic) {
        conditions.delete(check.kind === 'field' ? check.field : `labels.${check.key}`);
      }
    } else {
      const dynamic = decidable.filter((c) => c.pattern.placeholders.length > 0);
      const outcome = this.#passByParts(dynamic);
      if (outcome === 'no' && !this.#matchesFieldByField(rule, dynamic))
        return { match: 'no', conditions: [] };
      if (outcome !== 'yes') deny = true;
    }
    if (unmatchable) deny = true;
    if (rule.ip) {
      if (!known('ip')) conditions.add('ip');
      else if (this.#request.ip === null || !rule.ip.contains(this.#request.ip)) {
        return { match: 'no', conditions: [] };
      }
    }
    const order = (k: MatchKey) => {
      const at = (['account', 'type', 'name', 'service', 'ip'] as string[]).indexOf(k);
      return at < 0 ? 5 : at;
    };
    const sorted = [...conditions].sort((a, b) => order(a) - order(b));
    if (sorted.length === 0) return { match: 'yes', conditions: [], deny: true };
    return deny
      ? { match: 'depends', conditions: sorted, deny: true }
      : { match: 'depends', conditions: sorted };
  }

  /**
   * #passTogether for each group of `checks` linked by a shared label key or a capture: groups
   * are independent, so the rule passes when each does (`empty` when one only with an empty
   * value), and the cost is the sum of their combinations, not their product. `labelsLink`
   * false: a shared label key does not link checks (each tries its values on its own, as
   * docker_auth's fields do).
   */
  #passByParts(checks: readonly Check[], labelsLink = true): Outcome {
    const parent = checks.map((_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
    const byLink = new Map<string, number>();
    checks.forEach((c, i) => {
      const links = c.pattern.placeholders.flatMap((p) =>
        p.kind === 'label'
          ? labelsLink
            ? [`l:${p.label}`]
            : []
          : p.kind === 'group'
            ? [`f:${p.field}`]
            : [],
      );
      if (c.kind === 'field') links.push(`f:${c.field}`);
      for (const link of links) {
        const j = byLink.get(link);
        if (j === undefined) byLink.set(link, i);
        else parent[find(i)] = find(j);
      }
    });
    const groups = new Map<number, Check[]>();
    checks.forEach((c, i) => {
      const root = find(i);
      const group = groups.get(root);
      if (group) group.push(c);
      else groups.set(root, [c]);
    });
    let empty = false;
    for (const group of groups.values()) {
      const outcome = this.#passTogether(group);
      if (outcome === 'no') return 'no';
      if (outcome === 'empty') empty = true;
    }
    return empty ? 'empty' : 'yes';
  }

  /** How many label combinations the account's values for `keys` make. */
  #combinations(keys: readonly string[]): number {
    return keys.reduce((n, k) => n * new Set(labelValues(this.#request.labels, k)).size, 1);
  }

  /**
   * Whether `checks` all pass, in order (a capture's producer before its users), for some
   * combination of the label values their placeholders read, as `matches` tries them for a whole
   * rule: `empty` when only with an empty value. Past MAX_LABEL_COMBINATIONS, `yes` (the rule's
   * own count decides it denies).
   */
  #passTogether(checks: readonly Check[]): Outcome {
    const keys = [
      ...new Set(
        checks.flatMap((c) => c.pattern.placeholders.flatMap((p) => (p.kind === 'label' ? [p.label] : []))),
      ),
    ];
    const outcome = this.#tryCombinations(keys, () => this.#passAll(checks));
    return outcome === 'too-many' ? 'yes' : outcome;
  }

  /** Whether every one of `checks` passes, in order, for the current label combination. */
  #passAll(checks: readonly Check[]): Outcome {
    this.#usedEmpty = false;
    for (const check of checks) if (!this.#passes(check)) return 'no';
    return this.#usedEmpty ? 'empty' : 'yes';
  }

  #passes(check: Check): boolean {
    if (check.kind === 'labels') {
      // A value matched as written wins over one the pattern could not match (Unmatchable),
      // whatever their order.
      let unmatchable = false;
      for (const v of labelValues(this.#request.labels, check.key)) {
        this.#valueUnmatchable = false;
        const matched = check.pattern.match(v, this.resolve, this.#cache, this.#flagValue) !== null;
        if (matched && !this.#valueUnmatchable) return true;
        unmatchable ||= this.#valueUnmatchable;
      }
      if (unmatchable) this.#usedEmpty = true;
      return unmatchable;
    }
    const captures = check.pattern.match(
      this.#request[check.field],
      this.resolve,
      this.#cache,
      this.#unmatchable,
    );
    if (captures === null) return false;
    if (check.captures) this.#captures[check.field] = captures;
    return true;
  }
}

/** Finds the rules that can match a request, in rule order. */
interface RuleIndex {
  /** Rule indices, ascending, that may match `request`; the others certainly do not. */
  candidates(request: AuthzRequest): readonly number[];
}

/**
 * Buckets each rule by the literal prefix of its most selective field (`alice` for
 * `account: alice`, `team/` for `name: team/**`, `svc-` for `account: /^svc-(.+)$/`): a
 * request can only match rules filed under a prefix of its own value. Rules without a prefix
 * are tried for every request. So a 10,000-rule ACL of per-user and per-team rules tries a
 * handful of rules per scope instead of all of them.
 */
function buildIndex(rules: readonly Rule[], enabled: boolean): RuleIndex {
  const all = rules.map((_, i) => i);
  if (!enabled) return { candidates: () => all };

  const byField = new Map<RequestField, { byPrefix: Map<string, number[]>; lengths: Set<number> }>();
  const always: number[] = [];
  rules.forEach((rule, i) => {
    let best: { field: RequestField; prefix: string } | undefined;
    for (const check of [...rule.fixed, ...rule.dynamic]) {
      if (check.kind !== 'field') continue;
      const prefix = check.pattern.prefix;
      if (prefix.length > (best?.prefix.length ?? 0)) best = { field: check.field, prefix };
    }
    if (!best) {
      always.push(i);
      return;
    }
    let entry = byField.get(best.field);
    if (!entry) byField.set(best.field, (entry = { byPrefix: new Map(), lengths: new Set() }));
    const bucket = entry.byPrefix.get(best.prefix);
    if (bucket) bucket.push(i);
    else entry.byPrefix.set(best.prefix, [i]);
    entry.lengths.add(best.prefix.length);
  });
  const fields = [...byField].map(([field, { byPrefix, lengths }]) => ({
    field,
    byPrefix,
    lengths: [...lengths].sort((a, b) => a - b),
  }));

  return {
    candidates(request) {
      const found: number[] = [];
      for (const { field, byPrefix, lengths } of fields) {
        const value = request[field];
        for (const n of lengths) {
          if (n > value.length) break;
          const bucket = byPrefix.get(value.slice(0, n));
          if (bucket) for (const i of bucket) found.push(i);
        }
      }
      if (found.length === 0) return always;
      // Each rule sits in one bucket, so there are no duplicates; restore rule order.
      found.sort((a, b) => a - b);
      return mergeSorted(found, always);
    },
  };
}

function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(a[i]! < b[j]! ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}
