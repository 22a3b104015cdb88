import type { AclRuleInfo, AclWarning } from '../authz/acl.js';
import { compilePattern, PatternCache, REQUEST_FIELDS } from '../authz/pattern.js';
import type { Config } from '../config/load.js';
import { ONLINE_BACKENDS } from '../config/sections.js';
import { costliestHash } from '../pipeline/runtime.js';
import { formatPath } from '../core/errors.js';
import { isAccountName, quoteAccount, REFUSED_ACCOUNT_NAME } from '../core/account-name.js';

/** A finding of `regauth validate`: the config loads, but something in it cannot do what it says. */
export type LintWarning = AclWarning;

/** Config sections whose backends hand out labels that cannot be known at load time. */
/**
 * Lints a loaded config (docs/cli.md "`regauth validate`"): every warning the ACL compiler
 * found, plus
 * - rules that can never decide: after a catch-all `match: {}`, or after a rule with the same match;
 * - `name` patterns that cannot match a repository name: a leading `/` that is not a `/regex/`,
 *   or upper case in a glob (distribution names are lower case);
 * - `{labels:X}`, `{account}`… without the `$`: a brace alternative, not a placeholder;
 * - globs that are not ones: a `[` or `{` never closed, an empty range (`[z-a]`);
 * - a glob wildcard directly next to a placeholder (`${account}*`): account `al` would match
 *   `alice-secret`;
 * - labels a rule needs (`${labels:X}`, `match.labels.X`) that no authenticator can produce:
 *   no static user has them and no backend that reports labels at run time is configured;
 * - no authenticator at all, and no ACL rule without `ext_authz`;
 * - a bcrypt cost above 13, to which every failed login is padded;
 * - a jwt_auth issuer without required_claims: every job it signs for logs in;
 * - the registry page with oidc_auth behind a backend that cannot look accounts up: every session
 *   is refused;
 * - a static account whose name the token endpoint refuses (docs/http-api.md "Account names");
 * - a lockout whose `forget_after` is shorter than its `max_backoff`: locks stop growing there.
 */
export function lintConfig(config: Config): LintWarning[] {
  const rules = config.acl.rules;
  const warnings: LintWarning[] = [];
  for (const rule of rules) warnings.push(...rule.warnings);
  warnings.push(...shadowed(rules));
  for (const rule of rules) warnings.push(...patternWarnings(rule));
  warnings.push(...unproducibleLabels(config));
  warnings.push(...missingBackends(config));
  warnings.push(...costlyPadding(config));
  warnings.push(...openIssuers(config));
  warnings.push(...blindPageSessions(config));
  warnings.push(...oidcBehindBindAsUser(config));
  warnings.push(...unusableAccounts(config));
  warnings.push(...passwordedAnonymous(config));
  warnings.push(...forgottenBeforeUnlocked(config));
  // In file order: by rule, then as found (stable sort).
  const ruleIndex = (w: LintWarning) => Number(/^acl\[(\d+)\]/.exec(w.path)?.[1] ?? -1);
  return warnings.sort((a, b) => ruleIndex(a) - ruleIndex(b));
}

function shadowed(rules: readonly AclRuleInfo[]): LintWarning[] {
  const warnings: LintWarning[] = [];
  const catchAll = rules.find((r) => Object.keys(conditions(r.match)).length === 0);
  const seen = new Map<string, AclRuleInfo>();
  for (const rule of rules) {
    if (catchAll && rule.index > catchAll.index) {
      warnings.push({
        path: rule.path,
        message: `never decides: ${describe(catchAll)} matches every request first (match: ${Object.keys(catchAll.match).length === 0 ? '{}' : '{labels: {}}, which requires no label'})`,
      });
      continue;
    }
    const key = canonical(conditions(rule.match));
    const earlier = seen.get(key);
    if (earlier) {
      warnings.push({
        path: rule.path,
        message: `never decides: ${describe(earlier)} has the same match and comes first`,
      });
    } else seen.set(key, rule);
  }
  return warnings;
}

function describe(rule: AclRuleInfo): string {
  return rule.comment === undefined ? rule.path : `${rule.path} (${JSON.stringify(rule.comment)})`;
}

/** JSON with sorted keys, so `{a, b}` and `{b, a}` compare equal. */
/** A match without `labels: {}`, which requires no label: the keys that put a condition on the request. */
function conditions(match: AclRuleInfo['match']): object {
  const { labels, ...rest } = match;
  return labels === undefined || Object.keys(labels).length === 0 ? rest : match;
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

const REGEX = (p: string) => p.length > 2 && p.startsWith('/') && p.endsWith('/');
/** Placeholders are replaced by request values, so their own spelling says nothing about case. */
const PLACEHOLDER = /\$\{[^}]*\}/g;
/** `${account}*`, `*${account}`, `${account}?`, `[ab]${account}`: a glob wildcard touching a placeholder. */
const NEXT_TO_WILDCARD = /\$\{[^}]*\}[*?[]|[*?\]]\$\{/;
const MISSING_DOLLAR = /(?<!\$)\{(labels:[^}]*|(?:account|type|name|service)(?::\d+)?)\}/;

function patternWarnings(rule: AclRuleInfo): LintWarning[] {
  const warnings: LintWarning[] = [];
  const patterns: [string, string][] = [];
  for (const field of REQUEST_FIELDS) {
    const source = rule.match[field];
    if (source !== undefined) patterns.push([`${rule.path}.match.${field}`, source]);
  }
  for (const [key, source] of Object.entries(rule.match.labels ?? {})) {
    patterns.push([`${rule.path}.match.${formatPath(['labels', key])}`, source]);
  }
  for (const [path, source] of patterns) {
    const missing = MISSING_DOLLAR.exec(source);
    if (missing) {
      warnings.push({
        path,
        message: `{${missing[1]}} is a literal brace alternative, not a placeholder; did you mean \${${missing[1]}}?`,
      });
    }
  }
  for (const [path, source] of patterns) {
    const problem = REGEX(source) ? undefined : globProblem(source);
    if (problem && 'notGlob' in problem) {
      warnings.push({ path, message: `${JSON.stringify(source)} is not a glob: ${problem.notGlob}` });
    } else if (problem) warnings.push({ path, message: `${JSON.stringify(source)}: ${problem.differs}` });
  }
  for (const [path, source] of patterns) {
    if (REGEX(source) || !NEXT_TO_WILDCARD.test(source)) continue;
    warnings.push({
      path,
      message: `${JSON.stringify(source)}: a wildcard directly next to a placeholder lets a shorter value claim longer names ("al" matches "alice-secret"); put a separator between them, as in "\${account}/*"; with an empty value (the anonymous account, no service, an empty label value) the rule denies`,
    });
  }
  const name = rule.match.name;
  const repositoryRule = rule.match.type === undefined || rule.match.type === 'repository';
  if (name !== undefined && repositoryRule && !REGEX(name)) {
    const path = `${rule.path}.match.name`;
    if (name.startsWith('/')) {
      warnings.push({
        path,
        message: `${JSON.stringify(name)} starts with "/" but is not a /regex/ (it must also end with "/"); as a glob it never matches a repository name`,
      });
    } else if (/[A-Z]/.test(name.replace(PLACEHOLDER, ''))) {
      warnings.push({
        path,
        message: `${JSON.stringify(name)} has upper case letters; repository names are lower case, so it never matches`,
      });
    }
  }
  return warnings;
}

/**
 * What in a glob's text minimatch does not read as the author likely meant: a `[` or `{` never
 * closed (that character is then matched as itself; the rest of the pattern stays a glob), or a
 * character range whose end comes before its start (`[z-a]`: it matches nothing). Placeholders
 * and `\\`-escaped characters are skipped. Also (`differs`) what docker_auth's Go globs read
 * otherwise: a `/` in a class or escaped (SLASH_SPLITS), a class Go refuses (goRefusedClass).
 * Undefined for a well-formed glob.
 */
function globProblem(source: string): { notGlob: string } | { differs: string } | undefined {
  const text = source.replace(PLACEHOLDER, 'x');
  const openBraces: number[] = [];
  /** The first class Go lets take a `/`: said unless something worse is found after it. */
  let takesSlash: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      if (text[i + 1] === '/') return { differs: SLASH_SPLITS('"\\/"') };
      i++;
    } else if (c === '{') openBraces.push(i);
    else if (c === '}') openBraces.pop();
    else if (c === '[') {
      let j = i + 1;
      if (text[j] === '!' || text[j] === '^') j++;
      // A "]" right after the opening is a member, not the end; so is an escaped one.
      const end = classEnd(text, text[j] === ']' ? j + 1 : j);
      if (end < 0) return { notGlob: '"[" has no closing "]", so it is matched as a literal "["' };
      const members = text.slice(j, end);
      if (members.includes('/')) return { differs: SLASH_SPLITS(`"${text.slice(i, end + 1)}"`) };
      // Go negates with `^` only: `[!a]` is the members `!` and `a` there.
      const dead = goRefusedClass(text.slice(text[i + 1] === '^' ? i + 2 : i + 1, end + 1));
      if (dead) return { differs: dead };
      const whole = `"${text.slice(i, end + 1)}"`;
      if (takesSlash === undefined && goClassTakesSlash(text.slice(i + 1, end))) takesSlash = whole;
      // A range takes three members; a "-" first, last, right after a range or escaped is a member.
      const chars = classMembers(members);
      for (let k = 0; k + 2 < chars.length; k++) {
        if (chars[k + 1]!.ch !== '-' || chars[k + 1]!.escaped) continue;
        if (chars[k]!.ch > chars[k + 2]!.ch) {
          return {
            notGlob: `the range "${chars[k]!.ch}-${chars[k + 2]!.ch}" is empty, so it matches nothing`,
          };
        }
        k += 2;
      }
      i = end;
    }
  }
  if (openBraces.length > 0) return { notGlob: '"{" has no closing "}", so it is matched as a literal "{"' };
  return takesSlash === undefined ? undefined : { differs: CLASS_TAKES_SLASH(takesSlash) };
}

/** A class's members, in order, each with whether a backslash escaped it. */
function classMembers(text: string): { ch: string; escaped: boolean }[] {
  const members: { ch: string; escaped: boolean }[] = [];
  for (let k = 0; k < text.length; k++) {
    const escaped = text[k] === '\\' && k + 1 < text.length;
    if (escaped) k++;
    members.push({ ch: text[k]!, escaped });
  }
  return members;
}

/**
 * Whether Go's path.Match lets the class whose text between the brackets is `inner` take a `/`:
 * only `^` negates there (a `!` is a member), and a class checks the next character against its
 * members and ranges, `/` included. `inner` holds no `/` itself (SLASH_SPLITS is said first).
 */
function goClassTakesSlash(inner: string): boolean {
  const negated = inner.startsWith('^');
  const members = classMembers(negated ? inner.slice(1) : inner);
  let holds = false;
  for (let k = 0; k < members.length; k++) {
    // Go reads `lo-hi` wherever an unescaped `-` follows a member (goRefusedClass says where it
    // refuses one).
    const dash = members[k + 1];
    if (dash?.ch === '-' && !dash.escaped && k + 2 < members.length) {
      if (members[k]!.ch <= '/' && '/' <= members[k + 2]!.ch) holds = true;
      k += 2;
    } else if (members[k]!.ch === '/') holds = true;
  }
  return holds !== negated;
}

/** The index of the `]` that closes a class whose members start at `from`, skipping escaped characters; -1 when none does. */
function classEnd(text: string, from: number): number {
  for (let k = from; k < text.length; k++) {
    if (text[k] === '\\') k++;
    else if (text[k] === ']') return k;
  }
  return -1;
}

/** A `/` in a class or escaped: minimatch cuts the glob at every `/` before it reads either. */
const CLASS_TAKES_SLASH = (what: string) =>
  `the class ${what} takes a "/" in docker_auth (Go's path.Match checks a class against any character) and never here (globs are matched one path segment at a time): a name with a "/" where it stands, which docker_auth's rule matched, is not matched by it here; match such names with a rule of their own (a deny written so no longer covers them)`;
const SLASH_SPLITS = (what: string) =>
  `${what} is cut at its "/" (globs are matched one path segment at a time), so the pattern matches no name; docker_auth (Go's path.Match) read it whole, so its rule matched there: "?" is any character but "/" here, and a "/" needs no escape`;

/**
 * A class Go's path.Match refuses, so that docker_auth never matched its rule while minimatch
 * reads it as a working class: a `]` or `-` where a member or a range's end is due (`[]a]`,
 * `[-_]`, `[a-z-]`), or a POSIX class (`[[:alpha:]]`), which Go reads as the members `[:alph`
 * followed by a literal `]`. `rest` runs from the first member to the class's closing `]`.
 */
function goRefusedClass(rest: string): string | undefined {
  const dead = (why: string) =>
    `${why}: docker_auth (Go's path.Match) never matched this rule, and here it matches; escape a "-" or "]" meant as a member (\\-, \\]), or remove the rule`;
  if (/\[:[a-z]+:\]/.test(rest))
    return dead('a POSIX class such as [:alpha:] is one here, and literal characters in Go');
  let k = 0;
  const member = (): boolean => {
    const c = rest[k];
    if (c === undefined || c === '-' || c === ']') return false;
    k += c === '\\' ? 2 : 1;
    return true;
  };
  for (let n = 0; k < rest.length; n++) {
    if (rest[k] === ']' && n > 0) return undefined;
    if (!member()) return dead(`"${rest[k] ?? ''}" where a member is due`);
    if (rest[k] === '-') {
      k++;
      if (!member()) return dead(`"${rest[k] ?? ''}" where a range's end is due`);
    }
  }
  return undefined;
}

/**
 * What docker_auth refuses as "probably a mistake": no authenticator at all (then no request, not
 * even an anonymous one, gets a token; `users: {}` says so on purpose), and no ACL rule without
 * `ext_authz` (every scope denied); and a `users_file` that holds no account.
 */
function missingBackends(config: Config): LintWarning[] {
  const warnings: LintWarning[] = [];
  const authenticators = ['users', 'users_file', ...ONLINE_BACKENDS] as const;
  if (authenticators.every((section) => config[section] === undefined)) {
    warnings.push({
      path: '',
      message: `no authenticator is configured (users, users_file, ldap_auth, oidc_auth, jwt_auth or ext_auth): every token request is refused, anonymous ones too; write users: {} to refuse them on purpose`,
    });
  }
  // A file cut short, or the wrong path's: every login it would check is refused.
  if (config.users_file !== undefined && config.users_file.users.size === 0) {
    warnings.push({
      path: 'users_file',
      message: `${config.users_file.path} holds no account: every login it would check is refused`,
    });
  }
  if (config.acl.rules.length === 0 && config.ext_authz === undefined) {
    warnings.push({ path: 'acl', message: 'no rule and no ext_authz: every requested scope is denied' });
  }
  return warnings;
}

/**
 * A `""` entry with a password: a request without credentials sends none, so each is refused
 * (`password required`), where docker_auth compared it as the empty password with the hash.
 * (users_file cannot hold `""`.)
 */
function passwordedAnonymous(config: Config): LintWarning[] {
  if (config.users?.get('')?.passwordHash === undefined) return [];
  return [
    {
      path: formatPath(['users', '', 'password']),
      message:
        'requests without credentials send no password, so each gets 401 (docker_auth compared them as the empty password with this hash); write "": {} to let them in, or remove the entry',
    },
  ];
}

/**
 * `lockout.forget_after` shorter than `max_backoff`: a pair's count is kept that long after its last
 * failure, which is when its lock began, so a longer lock ends with the count forgotten (the client
 * gets max_failures fresh guesses) and no lock grows past `forget_after`.
 */
function forgottenBeforeUnlocked(config: Config): LintWarning[] {
  const { enabled, forget_after: forget, max_backoff: longest } = config.lockout;
  if (!enabled || forget >= longest) return [];
  return [
    {
      path: 'lockout.forget_after',
      message: `${forget} s is shorter than max_backoff (${longest} s): a pair's count is forgotten before a longer lock ends, so locks never grow past ${forget} s and each one ends with max_failures fresh guesses; make it at least max_backoff`,
    },
  ];
}

/** The highest bcrypt cost that keeps a failed login's padding fast (cost 13: 8 times cost 10). */
const USUAL_TOP_COST = 13;

/**
 * A bcrypt hash costlier than USUAL_TOP_COST: every failed login, for any account, is padded to the
 * highest configured cost (src/authn/password.ts), so one such hash slows every failure and fills
 * the login queue sooner. The warning names the costliest entry.
 */
function costlyPadding(config: Config): LintWarning[] {
  const top = costliestHash(config);
  if (top === undefined || top.cost <= USUAL_TOP_COST) return [];
  return [
    {
      path:
        top.section === 'users'
          ? formatPath(['users', top.account, 'password'])
          : `users_file (${JSON.stringify(top.account)})`,
      message: `bcrypt cost ${top.cost}: every failed login, for any account (made-up ones too), is padded to the highest configured cost, here ${2 ** (top.cost - 10)} times the work of cost 10; 10 to ${USUAL_TOP_COST} is usual`,
    },
  ];
}

/**
 * A jwt_auth issuer without required_claims lets in every job it signs a token for: on a shared
 * platform (GitHub Actions, gitlab.com), any project of any owner, since a job may ask for a token
 * of any audience.
 */
function openIssuers(config: Config): LintWarning[] {
  return (config.jwt_auth?.issuers ?? []).flatMap((issuer, i) =>
    Object.keys(issuer.required_claims).length > 0
      ? []
      : [
          {
            path: `jwt_auth.issuers[${i}]`,
            message: `no required_claims: every job ${issuer.issuer} signs a token for, in any project of any owner, logs in (a job may ask for any audience); unless the issuer signs only for your jobs (your own GitLab, your cluster), name the owners by ID, e.g. required_claims: {repository_owner_id: ['1234567']} (a name freed by a rename or deletion can be registered by anyone)`,
          },
        ],
  );
}

/** Static accounts (users:, users_file) under a name no login can use. */
function unusableAccounts(config: Config): LintWarning[] {
  const path = (section: 'users' | 'users_file', account: string) =>
    section === 'users' ? `users[${quoteAccount(account)}]` : `users_file (${quoteAccount(account)})`;
  return (['users', 'users_file'] as const).flatMap((section) =>
    [...((section === 'users' ? config.users : config.users_file?.users)?.keys() ?? [])]
      .filter((account) => !isAccountName(account))
      .map((account) => ({
        path: path(section, account),
        message: `this account can never log in: ${REFUSED_ACCOUNT_NAME}`,
      })),
  );
}

/**
 * The registry page's oidc_auth sessions are refused while a backend before oidc_auth cannot look
 * an account up without its password (src/pipeline/pipeline.ts redeemSession).
 */
function blindPageSessions(config: Config): LintWarning[] {
  if (!config.catalog || !config.oidc_auth) return [];
  const blind = config.ext_auth
    ? 'ext_auth'
    : config.ldap_auth?.initialBindAsUser
      ? 'ldap_auth (initial_bind_as_user)'
      : undefined;
  if (blind === undefined) return [];
  return [
    {
      path: 'catalog',
      message: `the registry page cannot keep oidc_auth sessions: ${blind} comes before oidc_auth and cannot say, without a password, whether it holds an account, so every session is refused; the page takes Basic credentials only`,
    },
  ];
}

/**
 * oidc_auth after an ldap_auth that binds as the user: the directory refuses a password it cannot
 * bind with, an account it does not hold included (it cannot tell the two apart), and that ends
 * the login (docs/backends/ldap.md "Outcomes"), so no app password is ever checked. (The refresh
 * grant asks no password: oidc_auth's refresh tokens still work, so who-can still names it.)
 */
function oidcBehindBindAsUser(config: Config): LintWarning[] {
  if (!config.oidc_auth || !config.ldap_auth?.initialBindAsUser) return [];
  return [
    {
      path: 'oidc_auth',
      message:
        'no app password logs in through oidc_auth: ldap_auth (initial_bind_as_user) comes before it and refuses every password it cannot bind with (an account the directory does not hold cannot be told from a wrong password); only refresh tokens of earlier oidc_auth logins still work, until they expire',
    },
  ];
}

function unproducibleLabels(config: Config): LintWarning[] {
  if (ONLINE_BACKENDS.some((section) => config[section] !== undefined)) return [];
  const known = new Set<string>();
  const values = new Map<string, string[]>();
  for (const users of [config.users, config.users_file?.users]) {
    for (const user of users?.values() ?? []) {
      for (const [key, list] of Object.entries(user.labels)) {
        known.add(key);
        // Added in place: a copy per user was quadratic in the accounts (serve lints at every reload).
        let all = values.get(key);
        if (!all) values.set(key, (all = []));
        for (const value of list) all.push(value);
      }
    }
  }
  const warnings: LintWarning[] = [];
  const unknown = (label: string) =>
    `no authenticator produces label ${JSON.stringify(label)}: no user in users: has it and no ext_auth, ldap_auth, oidc_auth or jwt_auth is configured, so this rule never matches`;
  for (const rule of config.acl.rules) {
    const reported = new Set<string>();
    for (const field of REQUEST_FIELDS) {
      const source = rule.match[field];
      if (source === undefined) continue;
      for (const label of placeholderLabels(source)) {
        if (known.has(label) || reported.has(label)) continue;
        reported.add(label);
        warnings.push({ path: `${rule.path}.match.${field}`, message: unknown(label) });
      }
    }
    for (const [key, source] of Object.entries(rule.match.labels ?? {})) {
      const path = `${rule.path}.match.${formatPath(['labels', key])}`;
      for (const label of [key, ...placeholderLabels(source)]) {
        if (known.has(label) || reported.has(label)) continue;
        reported.add(label);
        warnings.push({ path, message: unknown(label) });
      }
      // The key is produced, but is any of its values? (Only for patterns without placeholders.)
      if (known.has(key) && !reported.has(key) && !matchesAnyValue(source, values.get(key) ?? [])) {
        warnings.push({
          path,
          message: `no authenticator produces label ${key} with a value matching ${JSON.stringify(source)}: no user in users: or users_file has one and no ext_auth, ldap_auth, oidc_auth or jwt_auth is configured, so this rule never matches`,
        });
      }
    }
  }
  return warnings;
}

/** Whether a label pattern matches one of `values`; true when it has placeholders (not knowable here). */
function matchesAnyValue(source: string, values: readonly string[]): boolean {
  let pattern;
  try {
    pattern = compilePattern(source);
  } catch {
    return true; // The loader already reported it.
  }
  if (pattern.placeholders.length > 0) return true;
  const cache = new PatternCache(16);
  // Without placeholders nothing is resolved; a value the pattern cannot match as written
  // (Unmatchable: a dot or empty segment) counts as matched, as the rule decides for it.
  const none = () => undefined;
  return values.some((v) => pattern.match(v, none, cache, none) !== null);
}

function placeholderLabels(source: string): string[] {
  try {
    return compilePattern(source).placeholders.flatMap((p) => (p.kind === 'label' ? [p.label] : []));
  } catch {
    return []; // The loader already reported it.
  }
}
