import { braceExpand, GLOBSTAR, Minimatch, type MinimatchOptions } from 'minimatch';
import { escapeRegex } from '../core/regex.js';
import { RE2JS } from 're2js';
import { goGlob } from './go-glob.js';

/** The request values a placeholder can name: `${account}`, `${account:N}`, … */
export type RequestField = 'account' | 'type' | 'name' | 'service';

export const REQUEST_FIELDS: readonly RequestField[] = ['account', 'type', 'name', 'service'];

/** A `${…}` placeholder of an ACL pattern. `text` is how it was written. */
export type Placeholder =
  /** `${account}`: the request's value. */
  | { readonly kind: 'value'; readonly field: RequestField; readonly text: string }
  /** `${account:1}`: capture group N of the same rule's `account` regex. */
  | { readonly kind: 'group'; readonly field: RequestField; readonly group: number; readonly text: string }
  /** `${labels:group}`: one of the user's values for that label. */
  | { readonly kind: 'label'; readonly label: string; readonly text: string };

/** Gives a placeholder's value at request time, or undefined when it cannot be resolved. */
export type Resolve = (placeholder: Placeholder) => string | undefined;

/**
 * Told when a pattern cannot match a value as written: a placeholder's value holding `/` inside
 * an extended glob (`!(${account})/**`, `@(${labels:team})`; a glob is read one path segment at a
 * time, so `!(a/b)` is every segment and `@(a/b)` none), a placeholder's value so long that the
 * glob or regex cannot be built (minimatch stops at 64 Ki characters, V8 at a regex of about
 * 32 Ki), or a matched value holding a dot or empty segment that only minimatch's rules kept a
 * wildcard from (oddSegment). The pattern then counts as matching every value that starts with its prefix (a
 * regex's groups empty), and the caller has the rule decide and grant nothing, as for an empty
 * value (docs/acl.md).
 */
export type Unmatchable = () => void;

/** A successful match: a regex's groups (index 0 is the whole match), or none for a glob. */
export type Captures = readonly (string | undefined)[];

/** What a glob match returns: a glob has no capture groups, so every `${field:N}` on it is unresolvable. */
export const NO_CAPTURES: Captures = Object.freeze([]);

/**
 * An ACL pattern (docs/acl.md "Regular expressions and globs"), compiled at load.
 *
 * A pattern longer than two characters that starts and ends with `/` is a regular expression
 * searched unanchored; anything else is a minimatch glob over the whole value. A glob without
 * any of `*?[]{}()\` is compared for equality. A glob does not keep minimatch's directory
 * convention (`team/*` matching `team/app/`): a value ending in `/` is matched as Go's
 * `path.Match` matches it (matchesTrailingSlash); registry names never end in `/`.
 */
export interface Pattern {
  /** As written in the config. */
  readonly source: string;
  readonly kind: 'glob' | 'regex';
  /** Its placeholders, each once, in order of first appearance. */
  readonly placeholders: readonly Placeholder[];
  /** The number of capture groups of a regex; 0 for a glob. */
  readonly groups: number;
  /** The only value this pattern matches, when it is a glob without magic characters or placeholders. */
  readonly literal: string | undefined;
  /**
   * Text every matching value starts with (`team/` for `team/**`, `svc-` for `/^svc-(.+)$/`,
   * the whole literal for a literal), or `""`. Lets the ACL index rules.
   */
  readonly prefix: string;
  /**
   * Matches `value`, resolving placeholders through `resolve`; built patterns are kept in `cache`.
   * Returns the captures, or null when `value` does not match or a placeholder cannot be
   * resolved; `unmatchable` is told when the pattern cannot match `value` as written
   * (Unmatchable), and when only docker_auth's reading of a label value or capture matches it
   * (dockerAuthReadings). Never throws.
   */
  match(value: string, resolve: Resolve, cache: PatternCache, unmatchable: Unmatchable): Captures | null;
  /**
   * This pattern with its placeholders resolved once, now, through `resolve`: a test for many
   * values that agrees with `match` under that resolution (the literal prefix is compared
   * before any regex or glob runs). Undefined when a placeholder cannot be resolved, so that
   * nothing matches; `unmatchable` as for `match`. `otherwise` is told docker_auth's reading
   * under that resolution where it differs (dockerAuthReadings): the values it accepts and the
   * returned test does not are those `match` has decide and grant nothing. Never throws.
   */
  bind(
    resolve: Resolve,
    cache: PatternCache,
    unmatchable: Unmatchable,
    otherwise?: (theirs: ValueTest) => void,
  ): ValueTest | undefined;
}

/** Whether one value matches a pattern whose placeholders were resolved (Pattern.bind). */
export type ValueTest = (value: string) => boolean;

/**
 * minimatch options for every glob (docs/acl.md "Regular expressions and globs"): `dot` so `*`
 * matches `.hidden`; no negation and no comments, so `!x` and `#x` are literal. The rest makes
 * matching exact and host-independent: patterns are matched as written (no `..` folding, which
 * would let a substituted `..` remove a segment), `a//b` is not `a/b`, and `\` escapes on every
 * platform.
 */
export const GLOB_OPTIONS: MinimatchOptions = Object.freeze({
  dot: true,
  nonegate: true,
  nocomment: true,
  optimizationLevel: 0,
  preserveMultipleSlashes: true,
  platform: 'linux',
});

/**
 * Whether minimatch's reading of a glob holds a class it writes into its regex class with a `^`
 * first, where it negates: an escaped `\^` first (`[\^a]` matches `b`, not `a`), or a `^` left
 * first once the ranges it drops are gone (`[z-a^b]`: an out-of-order range matches nothing and
 * is dropped). Go's path.Match (docker_auth) reads the `^` as a member there. minimatch itself
 * says which portions (between `/`) it matches as text (where `[\^]` is `^`); the others' classes
 * are read as its class reader (parseClass, in @isaacs/nonrecursive-glob-match) reads them.
 */
function writesCaretFirst(glob: Minimatch): boolean {
  return glob.set.some((row, r) =>
    row.some(
      (part, k) => typeof part !== 'string' && part !== GLOBSTAR && caretFirst(glob.globParts[r]![k]!),
    ),
  );
}

/** minimatch's reading of a glob, or undefined when it refuses it (compileGlob reports that). */
function readGlob(text: string, options: MinimatchOptions): Minimatch | undefined {
  try {
    return new Minimatch(text, options);
  } catch {
    return undefined;
  }
}

/** Whether a portion of a glob minimatch does not match as text holds such a class. */
function caretFirst(portion: string): boolean {
  for (let i = 0; i < portion.length; i++) {
    if (portion[i] === '\\') {
      i++;
      continue;
    }
    if (portion[i] !== '[') continue;
    const { first, end, negated } = classMembers(portion, i);
    if (end < 0) continue;
    // A negated class keeps its own `^` first.
    if (!negated && first?.startsWith('^')) return true;
    i = end - 1;
  }
  return false;
}

/**
 * The first member minimatch writes for the class opening at `start` (a character, or a range
 * such as `^-z`; undefined for none), whether the class is negated, and the index after its
 * closing `]` (-1 when it is not closed: the `[` is then a character).
 */
function classMembers(
  glob: string,
  start: number,
): { first: string | undefined; negated: boolean; end: number } {
  let first: string | undefined;
  let negated = false;
  const keep = (member: string) => (first ??= member);
  let i = start + 1;
  let sawStart = false;
  let escaping = false;
  let rangeStart = '';
  while (i < glob.length) {
    const c = String.fromCodePoint(glob.codePointAt(i)!);
    if ((c === '!' || c === '^') && i === start + 1) {
      negated = true;
      i++;
      continue;
    }
    if (c === ']' && sawStart && !escaping) return { first, negated, end: i + 1 };
    sawStart = true;
    if (c === '\\' && !escaping) {
      escaping = true;
      i++;
      continue;
    }
    if (c === '[' && !escaping) {
      const posix = GLOB_POSIX_CLASS.exec(glob.slice(i))?.[0];
      if (posix !== undefined) {
        if (rangeStart) return { first, negated, end: glob.length };
        // [:graph:] and [:print:] are written in a class of their own, negated.
        if (posix !== '[:graph:]' && posix !== '[:print:]') keep(posix);
        i += posix.length;
        continue;
      }
    }
    escaping = false;
    if (rangeStart) {
      // An out-of-order range is dropped.
      if (c.codePointAt(0)! >= rangeStart.codePointAt(0)!) keep(`${rangeStart}-${c}`);
      rangeStart = '';
    } else if (glob.startsWith('-]', i + c.length)) {
      keep(c);
      i++;
    } else if (glob.startsWith('-', i + c.length)) {
      rangeStart = c;
      i++;
    } else keep(c);
    i += c.length;
  }
  return { first, negated, end: -1 };
}

/** Characters that make a glob more than a literal (`!+@` are magic only before `(`). */
const GLOB_MAGIC = /[*?[\]{}()\\]/;

/**
 * Escapes a value for a glob so that it matches only itself: a backslash before every character
 * minimatch may read as magic, and `|`, which separates the alternatives of an extglob `@(a|b)`
 * even when backslash-escaped, written as the class `[|]`. minimatch's own `escape` does not fit:
 * it leaves `!`, `+` and `@` alone (it escapes the parentheses after them, but here a `(` may
 * follow in the template, `${account}(-ci)/*`, and `bob!` would open `!(…)`) and `,` (magic
 * inside `{a,b}`), and it escapes a leading `!` itself. Meant for globs matched with `nobrace`
 * (see compileGlob).
 */
export function escapeGlob(value: string): string {
  // Most values (account names, label values) have nothing to escape: skip the replaces.
  if (!GLOB_SPECIAL.test(value)) return value;
  return value.replace(GLOB_ESCAPED, '\\$&').replace(/\|/g, '[|]');
}

const GLOB_ESCAPED = /[*?[\]{}()\\,!+@]/g;
const GLOB_SPECIAL = /[*?[\]{}()\\,|!+@]/;

/** Options for globs built from a template: braces were already expanded at load. */
const EXPANDED_GLOB_OPTIONS: MinimatchOptions = Object.freeze({ ...GLOB_OPTIONS, nobrace: true });

/**
 * Compiles one pattern. Throws a SyntaxError naming the problem: a regex that does not
 * compile, or a placeholder that is malformed (`${foo}`, `${labels:}`, an unterminated `${`).
 */
export function compilePattern(
  source: string,
  /**
   * true for a `labels` pattern: docker_auth's reading there puts captures in raw, but expands no
   * `${labels:…}` (both sides would be label values, of any length): regauth's label values are
   * read escaped there.
   */
  labelsPattern = false,
): Pattern {
  if (source.includes('\u0000')) throw new SyntaxError('a pattern must not contain NUL characters');
  const isRegex = source.length > 2 && source.startsWith('/') && source.endsWith('/');
  const parts = parseTemplate(isRegex ? source.slice(1, -1) : source);
  // A glob's braces are expanded before its classes are read: each alternative is checked
  // (only when it has placeholders; without, there is nothing to find).
  const templated = parts.some((p) => typeof p !== 'string');
  if (
    templated &&
    (isRegex
      ? placeholderInClass(parts, true)
      : expandBraces(parts).some((alt) => placeholderInClass(alt, false)))
  ) {
    throw new SyntaxError(
      'a placeholder cannot stand inside a […] class (its value would be read as a set of characters); write it outside the brackets',
    );
  }
  const placeholders = distinct(parts);
  // A labels pattern with a label placeholder too: no reading (its text would hold one label value
  // and be searched over another, both of any length).
  const isRaw = !labelsPattern
    ? RAW_IN_FIELDS
    : placeholders.some((p) => p.kind === 'label')
      ? NONE_RAW
      : RAW_IN_LABELS;
  return isRegex
    ? compileRegex(source, parts, placeholders, isRaw)
    : compileGlob(source, parts, placeholders, isRaw);
}

type Part = string | Placeholder;

/** Which placeholders docker_auth puts in raw (dockerAuthReadings): labels and captures. */
type RawKind = (p: Placeholder) => boolean;
const RAW_IN_FIELDS: RawKind = (p) => p.kind !== 'value';
/** In a `labels` pattern: captures only (compilePattern). */
const RAW_IN_LABELS: RawKind = (p) => p.kind === 'group';
const NONE_RAW: RawKind = () => false;

/** The POSIX classes minimatch knows inside a glob's class; any other `[:…:]` is characters. */
const GLOB_POSIX_CLASS =
  /^\[:(?:alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|space|upper|word|xdigit):\]/;

/**
 * Whether a placeholder stands inside a character class of the pattern: `[${account}]` would
 * match any one character of the value, and a value starting with `^` would negate a glob's
 * class. Classes as the engines read them: a backslash escapes the next character; in a glob,
 * a `]` right after `[` (or `[!`, `[^`) is a member, and a `[` never closed is a character, but
 * not before a placeholder (a value's `|`, written `[|]`, would close it). A
 * glob is checked once per brace alternative and per `/`-separated part (minimatch expands
 * braces and splits at `/` before it reads classes), and in both of minimatch's readings of a
 * POSIX class (`[[:alpha:]x]` is one class; inside an extglob, the first `]` ends it).
 */
function placeholderInClass(parts: readonly Part[], isRegex: boolean): boolean {
  // The text with each placeholder as NUL, which no pattern holds (refused above).
  const text = parts.map((p) => (typeof p === 'string' ? p : '\u0000')).join('');
  if (isRegex) return classHolds(text, true, false);
  return text.split('/').some((part) => classHolds(part, false, true) || classHolds(part, false, false));
}

/** placeholderInClass for one text; `posix`: a glob's POSIX class (minimatch's names) is part of its class. */
function classHolds(text: string, isRegex: boolean, posix: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') {
      i++;
      continue;
    }
    if (text[i] !== '[') continue;
    let j = i + 1;
    if (!isRegex) {
      if (text[j] === '!' || text[j] === '^') j++;
      if (text[j] === ']') j++;
    }
    let holds = false;
    for (; j < text.length && text[j] !== ']'; j++) {
      if (text[j] === '\\') j++;
      else if (text[j] === '\u0000') holds = true;
      else if (posix && text[j] === '[') {
        const named = GLOB_POSIX_CLASS.exec(text.slice(j));
        if (named) j += named[0].length - 1;
      }
    }
    if (j >= text.length) {
      // Never closed: a glob reads the `[` as a character, but a value's `|`, escaped as `[|]`,
      // would close it; a regex would not compile anyway. Either way, not with a placeholder.
      if (isRegex || holds) return holds;
      continue;
    }
    if (holds) return true;
    i = j;
  }
  return false;
}

/**
 * The placeholders of one brace alternative that stand inside an extended glob (`@(…)`, `!(…)`,
 * `+(…)`, `*(…)`, `?(…)`), read per `/`-separated part as minimatch reads them: a backslash
 * escapes the next character, a class is skipped (a placeholder in one is refused at load), and
 * an extended glob never closed counts too (reading too many only makes a rule deny).
 */
function insideExtglob(parts: readonly Part[]): Placeholder[] {
  const placeholders = parts.filter((p): p is Placeholder => typeof p !== 'string');
  if (placeholders.length === 0) return [];
  // The text with each placeholder as NUL, which no pattern holds (refused at load).
  const text = parts.map((p) => (typeof p === 'string' ? p : '\u0000')).join('');
  const found: Placeholder[] = [];
  let nth = 0;
  for (const segment of text.split('/')) {
    let depth = 0;
    for (let i = 0; i < segment.length; i++) {
      const ch = segment[i];
      if (ch === '\\') i++;
      else if (ch === '\u0000') {
        if (depth > 0) found.push(placeholders[nth]!);
        nth++;
      } else if (ch === '[') i = classEnd(segment, i);
      else if ('@!+*?'.includes(ch!) && segment[i + 1] === '(') {
        depth++;
        i++;
      } else if (ch === ')' && depth > 0) depth--;
    }
  }
  return found;
}

/** Where the glob class opened at `open` ends (its `]`), or `open` when it never closes. */
function classEnd(text: string, open: number): number {
  let j = open + 1;
  if (text[j] === '!' || text[j] === '^') j++;
  if (text[j] === ']') j++;
  for (; j < text.length && text[j] !== ']'; j++) if (text[j] === '\\') j++;
  return j < text.length ? j : open;
}

/** `raw`: docker_auth's reading of its label values and captures counts (compilePattern). */
function compileRegex(
  source: string,
  parts: readonly Part[],
  placeholders: readonly Placeholder[],
  isRaw: RawKind,
): Pattern {
  const rawPlaceholders = placeholders.filter(isRaw);
  const raw = rawPlaceholders.length > 0;
  // Values are escaped, so how many groups the regex has does not depend on them, nor whether it
  // compiles but for an empty value before a quantifier (`${account}+`, which then matches as
  // an unbuilt pattern does): checking once with an empty group for each value checks the rest.
  const probe = expand(
    parts,
    () => '',
    () => '(?:)',
  )!;
  let regex: RegExp;
  try {
    regex = new RegExp(probe);
  } catch (err) {
    throw new SyntaxError(`invalid regular expression ${source}: ${goGroup(probe) ?? regexReason(err)}`, {
      cause: err,
    });
  }
  const empty = new RegExp(`${probe}|`).exec('')!;
  const groups = empty.length - 1;
  // Read with its placeholders' stand-ins, whose values are escaped and need no check.
  const go = goOnlySyntax(probe, empty.groups !== undefined);
  if (go !== undefined) throw new SyntaxError(`invalid regular expression ${source}: ${go}`);
  // A quantifier right after a placeholder (docker_auth's applies to the value's last character,
  // and so does regauth's), or a value inside a repeat count (`{${labels:n}}`, a count there, text here).
  const quantified = parts.some(
    (p, i) =>
      typeof p !== 'string' &&
      (/^[*+?{,}]/.test(String(parts[i + 1] ?? '')) || /\{\d*,?$/.test(String(parts[i - 1] ?? ''))),
  );
  // docker_auth's reading of a value may make the text before it optional (`^x${labels:x}`, x
  // `*`) or one alternative of two (`|bar`), and an empty value before a quantifier makes the
  // character before it optional (`^x${account}*` is `^x*`): no prefix then (the rule index must
  // try the rule).
  const prefix = raw || quantified ? '' : regexPrefix(parts);
  const base = { source, kind: 'regex', placeholders, groups, literal: undefined, prefix } as const;
  if (placeholders.length === 0) {
    return { ...base, match: (value) => regex.exec(value), bind: () => regexTest(prefix, regex) };
  }
  // What a regex the values make too large to build matches (Unmatchable): its groups empty.
  const unbuilt = (value: string): Captures => [value, ...new Array<undefined>(groups)];
  /**
   * Whether an empty value stands before a quantifier (`^${account}+` for the anonymous account):
   * V8 then has nothing to repeat and refuses the regex, where Go repeats what comes before: an
   * assertion (`^+`, which matches) or nothing (`(+`, which it refuses too).
   */
  const quantifierAfter = (i: number): boolean => /^[*+?{]/.test(String(parts[i + 1] ?? ''));
  const emptyBefore = (resolve: Resolve): boolean =>
    parts.some((p, i) => typeof p !== 'string' && quantifierAfter(i) && resolve(p) === '');
  /**
   * Go's reading of such a regex, in V8's syntax: the assertion before each empty value that a
   * quantifier follows grouped (`^` becomes `(?:^)`, which V8 repeats), or null where Go refuses
   * it too. The rule then decides and grants nothing where that matches (docs/acl.md, an empty
   * value).
   */
  const goReading = (resolve: Resolve, cache: PatternCache, expanded: string): ValueTest | null => {
    const grouped = [...parts];
    for (let i = 1; i < grouped.length; i++) {
      const p = grouped[i]!;
      if (typeof p === 'string' || resolve(p) !== '' || !quantifierAfter(i)) continue;
      // The text before it, past other empty values (`^${account}${service}+` is `^+` too).
      let at = i - 1;
      while (at > 0 && typeof grouped[at] !== 'string' && resolve(grouped[at] as Placeholder) === '') at--;
      const before = grouped[at];
      if (typeof before !== 'string') continue;
      const assertion = /(?:\\[bB]|[$^])$/.exec(before);
      // Unescaped: no odd run of backslashes right before it (`\\^` is a backslash, then `^`).
      if (!assertion || /(?:^|[^\\])(?:\\\\)*\\$/.test(before.slice(0, assertion.index))) continue;
      grouped[at] = `${before.slice(0, assertion.index)}(?:${assertion[0]})`;
    }
    const text = expand(grouped, resolve, regexValue);
    const v8 = text === undefined ? null : cache.regex(text);
    if (v8 !== null) return (value) => v8.test(value);
    // What V8 cannot read at all, Go may: after `(`, an empty value's `?` opens a flags group
    // there (`(?i)`). re2js reads the text as Go does (V8's own escapes, `\uHHHH`, it refuses).
    return cache.re2(expanded);
  };
  /** docker_auth's reading under `resolve` (dockerAuthReadings), when it may differ from regauth's. */
  const theirs = (resolve: Resolve, cache: PatternCache): ValueTest | null => {
    if (!raw) return null;
    if (!quantified && rawPlaceholders.every((p) => !REGEX_SPECIAL.test(resolve(p) ?? ''))) return null;
    // Go's QuoteMeta, no group, and the raw values as they are.
    return cache.re2(expandAsDockerAuth(parts, resolve, escapeRegex, isRaw)!);
  };
  return {
    ...base,
    match(value, resolve, cache, unmatchable) {
      const expanded = expand(parts, resolve, regexValue);
      if (expanded === undefined) return null;
      const regex = cache.regex(expanded);
      if (regex !== null) {
        const found = regex.exec(value);
        if (found !== null || !theirs(resolve, cache)?.(value)) return found;
        // Only docker_auth's reading matches: the rule decides and grants nothing; its groups empty.
        unmatchable();
        return unbuilt(value);
      }
      if (emptyBefore(resolve)) {
        if (!goReading(resolve, cache, expanded)?.(value) && !theirs(resolve, cache)?.(value)) return null;
        unmatchable();
        return unbuilt(value);
      }
      if (!value.startsWith(prefix)) return null;
      unmatchable();
      return unbuilt(value);
    },
    bind(resolve, cache, unmatchable, otherwise) {
      const expanded = expand(parts, resolve, regexValue);
      if (expanded === undefined) return undefined;
      const other = otherwise && theirs(resolve, cache);
      if (other) otherwise!(other);
      const regex = cache.regex(expanded);
      if (regex !== null) return regexTest(prefix, regex);
      if (emptyBefore(resolve)) {
        const go = goReading(resolve, cache, expanded);
        if (go === null) return NEVER;
        unmatchable();
        return go;
      }
      unmatchable();
      return (value) => value.startsWith(prefix);
    },
  };
}

const NEVER: ValueTest = () => false;

/** A regex's test, its literal prefix compared first. */
function regexTest(prefix: string, regex: RegExp): ValueTest {
  return prefix === ''
    ? (value) => regex.test(value)
    : (value) => value.startsWith(prefix) && regex.test(value);
}

/** A glob's test, its literal prefix compared first. */
function globTest(prefix: string, glob: Minimatch): ValueTest {
  return prefix === ''
    ? (value) => globMatch(glob, value)
    : (value) => value.startsWith(prefix) && globMatch(glob, value);
}

/**
 * Whether a glob matches `value`. An empty value (the anonymous account, a request without a
 * service) is matched as docker_auth's Go `path.Match` matches it: by stars alone (`*`, `**`, or
 * such a `{…}` alternative), where minimatch matches nothing, so a rule for `*` covers it.
 */
function globMatch(glob: Minimatch, value: string): boolean {
  if (value === '') return glob.globSet.some((alt) => STARS.test(alt));
  return glob.match(value) && (!value.endsWith('/') || matchesTrailingSlash(glob, value));
}

/**
 * Whether a glob that matched a value ending in `/` matched its last, empty segment as written.
 * minimatch also lets an alternative match a value one segment longer than it, the last empty
 * (its directory convention: `team/*` matches `team/app/`, and a glob ending in `/` a value ending
 * in `//`), where docker_auth's `path.Match` does not and a `*` takes no `/`. As written, per alternative: it
 * matches the value, and either its `**` takes the `/` (the value with a character after it
 * matches too) or it does not match the value without its last `/` (which the convention would
 * have let it reach). Names never end in `/` (their grammar); an account or a label value may.
 */
function matchesTrailingSlash(glob: Minimatch, value: string): boolean {
  const shorter = value.slice(0, -1);
  return alternativesOf(glob).some(
    (one) => one.match(value) && (one.match(value + STAND_IN) || !one.match(shorter)),
  );
}

/** A glob's alternatives, each compiled on its own once (a glob lives as long as its config). */
function alternativesOf(glob: Minimatch): readonly Minimatch[] {
  let alternatives = ALTERNATIVES.get(glob);
  if (!alternatives) {
    alternatives = glob.globSet.map((alt) => new Minimatch(alt, { ...glob.options, nobrace: true }));
    ALTERNATIVES.set(glob, alternatives);
  }
  return alternatives;
}

const ALTERNATIVES = new WeakMap<Minimatch, readonly Minimatch[]>();

const STARS = /^\*+$/;

/**
 * Whether a value holds a path segment minimatch never matches with a wildcard where docker_auth's
 * `path.Match` does: `.` or `..` (`*` does not match `.`, `dot` or not), or an empty one (`x/`,
 * `/x`, `a//b`: a `*` alone needs a character). A glob that misses such a value but matches one of
 * its stand-in forms (standInMatches) was kept from it by minimatch's rules alone (Unmatchable).
 * A repository name never holds one (the name grammar); an account or a label value may (a group
 * path `/team` as an OIDC provider sends it).
 */
export function oddSegment(value: string): boolean {
  // Only a value with a `/` can hold an empty segment, or a dot segment among others.
  return value.includes('/') ? ODD_SEGMENT.test(value) : value === '.' || value === '..';
}

/**
 * Whether a glob would match `value` through its wildcards but for minimatch's rules on dot and
 * empty segments: `matches` holds for a form of the value with that segment in one of its
 * `STAND_INS` forms, where a character no pattern writes (U+E000) stands in for a dot (what a
 * wildcard takes: `*` or `?` for `.`, `?.` for `..`) or beside the dots, or fills an empty
 * segment (what a `*` matches with nothing: `.*` for `.`, `x/*` for `x/`; it must match two such
 * characters there too, so `.?` and `x/?` do not). Some glob a form matches may still miss the
 * value under docker_auth's `path.Match` (`.?*` against `.`): the rule then decides and grants
 * nothing, as for any such value.
 *
 * Before any form is built: a glob none of whose alternatives has as many segments as the value
 * (nor a `**`) cannot match it, whatever its wildcards take (a group path `/team/a` against
 * `*-admins`). Past that, a value is taken as matched when no form can say: one with more than
 * one such segment (each segment's forms times the others'), or a dot segment where the glob
 * holds a character class (what `[a-z.]` takes from `.`: the stand-in is in no class).
 */
function standInMatches(
  value: string,
  shape: { readonly classed: boolean; fits(segments: number, trailing: boolean): boolean },
  matches: (form: string) => boolean,
): boolean {
  const segments = value.split('/');
  if (!shape.fits(segments.length, segments[segments.length - 1] === '')) return false;
  const odd = segments.flatMap((s, i) => (STAND_INS.has(s) ? [i] : []));
  if (odd.length !== 1) return true;
  const at = odd[0]!;
  if (shape.classed && segments[at] !== '') return true;
  const before = segments
    .slice(0, at)
    .map((s) => `${s}/`)
    .join('');
  const after = segments
    .slice(at + 1)
    .map((s) => `/${s}`)
    .join('');
  return STAND_INS.get(segments[at]!)!.some(
    (option) =>
      matches(before + option.replaceAll(BESIDE, STAND_IN) + after) &&
      (!option.includes(BESIDE) || matches(before + option.replaceAll(BESIDE, STAND_IN + STAND_IN) + after)),
  );
}

/**
 * Whether one of a glob's alternatives may match a value of `segments` path segments; with
 * `trailing`, the value's last one is empty, and a glob one segment shorter may match it too
 * (minimatch's directory convention: `team/*` matches `team/app/`).
 */
function fitsGlob(glob: Minimatch, segments: number, trailing: boolean): boolean {
  return glob.set.some(
    (alt) => alt.length === segments || (trailing && alt.length === segments - 1) || alt.includes(GLOBSTAR),
  );
}

const STAND_IN = '\uE000';
/** Where a stand-in goes beside a segment's dots (a `*` matching nothing); never in a form tried. */
const BESIDE = '\uE001';

/** Each odd segment's forms: a stand-in in place of a dot, or beside the dots or in an empty segment. */
const STAND_INS: ReadonlyMap<string, readonly string[]> = new Map([
  ['', [BESIDE]],
  ['.', [STAND_IN, `${BESIDE}.`, `.${BESIDE}`]],
  ['..', [STAND_IN + STAND_IN, `${STAND_IN}.`, `.${STAND_IN}`, `${BESIDE}..`, `.${BESIDE}.`, `..${BESIDE}`]],
]);

/**
 * Whether glob text holds a character class (`[`, not escaped). No stand-in form can tell what a
 * class would have taken from a dot segment (`[a-z.]` takes `.`, and holds no stand-in), so a
 * glob with one that misses such a value is taken as matching it (docs/acl.md); a class never
 * fills an empty segment.
 */
function holdsClass(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '[') return true;
  }
  return false;
}

const ODD_SEGMENT = /(?:^|\/)(?:\.\.?)?(?:\/|$)/;

/** Text before the first character of a glob that may be magic (`!+@` start extglobs like `+(a)`). */
function globPrefix(text: string): string {
  return text.slice(0, text.search(/[*?[\]{}()\\!+@]|$/));
}

/** `raw`: docker_auth's reading of its label values and captures counts (compilePattern). */
function compileGlob(
  source: string,
  parts: readonly Part[],
  placeholders: readonly Placeholder[],
  isRaw: RawKind,
): Pattern {
  const raw = placeholders.some(isRaw);
  // As minimatch reads the glob: braces expanded (a numeric range of 100 or more is kept whole)
  // and each portion between `/` matched as text or not. A placeholder's value is escaped text:
  // `\)` stands for it (a `)` after an unclosed `@(` makes the portion an extglob's).
  // Only a glob with a `[` can hold a class: the others are not read here.
  const readings = !parts.some((p) => typeof p === 'string' && p.includes('['))
    ? []
    : placeholders.length > 0
      ? expandBraces(parts).map((alt) =>
          readGlob(alt.map((p) => (typeof p === 'string' ? p : '\\)')).join(''), EXPANDED_GLOB_OPTIONS),
        )
      : [readGlob(source, GLOB_OPTIONS)];
  if (readings.some((glob) => glob !== undefined && writesCaretFirst(glob))) {
    throw new SyntaxError(
      'a […] class whose first member is a ^ (escaped, [\\^a], or once an out-of-order range is dropped, [z-a^b]) is read as negated by the glob library (docker_auth read the member ^); write the ^ after another member ([a\\^])',
    );
  }
  // Literal text without magic needs no glob engine: compare strings.
  const plain = parts.every((p) => typeof p !== 'string' || !GLOB_MAGIC.test(p));
  const first = parts[0];
  const base = {
    source,
    kind: 'glob',
    placeholders,
    groups: 0,
    literal: plain && placeholders.length === 0 ? source : undefined,
    // docker_auth reads a text starting with `/` that a label value or capture ends with `/` as a
    // regular expression, searched anywhere: no prefix then (its rule must be tried for every value).
    prefix: typeof first === 'string' && !(first.startsWith('/') && raw) ? globPrefix(first) : '',
  } as const;
  if (placeholders.length === 0) {
    if (plain) {
      const test: ValueTest = (value) => value === source;
      return { ...base, match: (value) => (test(value) ? NO_CAPTURES : null), bind: () => test };
    }
    let glob: Minimatch;
    try {
      // The reading the check above made, or the error it set aside.
      glob = readings[0] ?? new Minimatch(source, GLOB_OPTIONS);
      glob.match('');
    } catch (err) {
      throw new SyntaxError(`invalid glob ${JSON.stringify(source)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const test = globTest(base.prefix, glob);
    const shape = {
      classed: holdsClass(source),
      fits: (segments: number, trailing: boolean) => fitsGlob(glob, segments, trailing),
    };
    return {
      ...base,
      match(value, _resolve, _cache, unmatchable) {
        if (globMatch(glob, value)) return NO_CAPTURES;
        if (
          !oddSegment(value) ||
          !value.startsWith(base.prefix) ||
          !standInMatches(value, shape, (v) => globMatch(glob, v))
        ) {
          return null;
        }
        unmatchable();
        return NO_CAPTURES;
      },
      // Bound for names only, which hold no dot or empty segment (filterNames decides one that does alone).
      bind: () => test,
    };
  }
  if (plain) {
    const theirs = (resolve: Resolve, cache: PatternCache) =>
      raw ? dockerAuthReadings([parts], resolve, cache, isRaw) : [];
    return {
      ...base,
      match(value, resolve, cache, unmatchable) {
        const expanded = expand(parts, resolve, (v) => v);
        if (expanded === undefined) return null;
        if (expanded === value) return NO_CAPTURES;
        if (!theirs(resolve, cache).some((test) => test(value))) return null;
        unmatchable();
        return NO_CAPTURES;
      },
      bind(resolve, cache, _unmatchable, otherwise) {
        const expanded = expand(parts, resolve, (v) => v);
        if (expanded === undefined) return undefined;
        const other = otherwise ? anyOf(theirs(resolve, cache)) : undefined;
        if (other) otherwise!(other);
        return (value) => value === expanded;
      },
    };
  }
  // Braces are expanded here, in the pattern's own text, and never after substitution:
  // brace-expansion reads a value's escaped backslash `\\` as one backslash, which would then
  // escape the value's next character. Each alternative is matched without brace expansion.
  const expanded = expandBraces(parts);
  const alternatives = expanded.map((alt) => ({
    parts: alt,
    plain: alt.every((p) => typeof p !== 'string' || !GLOB_MAGIC.test(p)),
  }));
  // A class comes from the pattern's own text: a placeholder's value is escaped.
  const classed = parts.some((p) => typeof p === 'string' && holdsClass(p));
  // Placeholders written inside an extended glob, where a value holding `/` cannot be matched.
  const enclosed = distinct(expanded.flatMap(insideExtglob));
  const splits = (resolve: Resolve) => enclosed.some((p) => resolve(p)!.includes('/'));
  const prefixed: ValueTest = (value) => value.startsWith(base.prefix);
  /**
   * Whether an alternative matches `value` under `resolve`; undefined when one cannot be built.
   * As `tests`, without making them: every alternative is built, even past a match, so that one
   * the values make too long decides here as it does in `bind`.
   */
  const anyAlternative = (value: string, resolve: Resolve, cache: PatternCache): boolean | undefined => {
    let matched = false;
    for (const alt of alternatives) {
      if (alt.plain) {
        matched ||= expand(alt.parts, resolve, (v) => v) === value;
      } else {
        const glob = cache.glob(expand(alt.parts, resolve, escapeGlob)!);
        if (glob === null) return undefined;
        matched ||= globMatch(glob, value);
      }
    }
    return matched;
  };
  /** Whether an alternative under `resolve` may match a value of `segments` path segments (fitsGlob). */
  const anyFits = (segments: number, trailing: boolean, resolve: Resolve, cache: PatternCache): boolean =>
    alternatives.some((alt) => {
      if (alt.plain) return expand(alt.parts, resolve, (v) => v)!.split('/').length === segments;
      const glob = cache.glob(expand(alt.parts, resolve, escapeGlob)!);
      return glob === null || fitsGlob(glob, segments, trailing);
    });
  /**
   * Each alternative's test under `resolve`, or undefined when the values make the pattern
   * unmatchable as written (Unmatchable): a `/` inside an extended glob, a glob too long to build.
   */
  const tests = (resolve: Resolve, cache: PatternCache): ValueTest[] | undefined => {
    if (splits(resolve)) return undefined;
    const out: ValueTest[] = [];
    for (const alt of alternatives) {
      if (alt.plain) {
        const text = expand(alt.parts, resolve, (v) => v)!;
        out.push((value) => value === text);
        continue;
      }
      const text = expand(alt.parts, resolve, escapeGlob)!;
      const glob = cache.glob(text);
      if (glob === null) return undefined;
      out.push(globTest(globPrefix(text), glob));
    }
    return out;
  };
  const theirs = (resolve: Resolve, cache: PatternCache) =>
    raw
      ? dockerAuthReadings(
          alternatives.map((alt) => alt.parts),
          resolve,
          cache,
          isRaw,
        )
      : [];
  return {
    ...base,
    match(value, resolve, cache, unmatchable) {
      // One unresolvable placeholder fails the pattern, whichever alternative holds it.
      if (!placeholders.every((p) => resolve(p) !== undefined)) return null;
      const found = splits(resolve) ? undefined : anyAlternative(value, resolve, cache);
      if (found === true) return NO_CAPTURES;
      // A dot or empty segment no alternative matched, where a wildcard would have matched another value.
      if (
        found === false &&
        !(
          oddSegment(value) &&
          standInMatches(
            value,
            { classed, fits: (segments, trailing) => anyFits(segments, trailing, resolve, cache) },
            (v) => anyAlternative(v, resolve, cache) === true,
          )
        )
      ) {
        if (!theirs(resolve, cache).some((test) => test(value))) return null;
        unmatchable();
        return NO_CAPTURES;
      }
      if (!prefixed(value)) return null;
      unmatchable();
      return NO_CAPTURES;
    },
    bind(resolve, cache, unmatchable, otherwise) {
      if (!placeholders.every((p) => resolve(p) !== undefined)) return undefined;
      const other = otherwise ? anyOf(theirs(resolve, cache)) : undefined;
      if (other) otherwise!(other);
      const bound = tests(resolve, cache);
      if (bound === undefined) {
        unmatchable();
        return prefixed;
      }
      return bound.length === 1 ? bound[0]! : (value) => bound.some((test) => test(value));
    },
  };
}

/** A placeholder's stand-in during brace expansion: NUL never occurs in a pattern (refused at load). */
const TOKEN = /\u0000(\d+)\u0000/;

/** Expands `{a,b}` in a template's text, keeping its placeholders in place. */
function expandBraces(parts: readonly Part[]): Part[][] {
  const placeholders = parts.filter((p): p is Placeholder => typeof p !== 'string');
  let n = 0;
  const joined = parts.map((p) => (typeof p === 'string' ? p : `\u0000${n++}\u0000`)).join('');
  return [...new Set(braceExpand(joined, GLOB_OPTIONS))].map((alt) =>
    alt
      .split(TOKEN)
      .map((piece, i): Part => (i % 2 === 1 ? placeholders[Number(piece)]! : piece))
      .filter((p) => p !== ''),
  );
}

/**
 * The literal text a regex anchored with `^` requires at the start (`svc-` for `^svc-(.+)$`).
 * Conservative: it stops at the first construct it does not read as a plain character, drops
 * a character that a quantifier makes optional, and gives up on any `|` (top-level alternation
 * would void the anchor). Placeholders end it: their values are wrapped in `(?:…)`.
 */
function regexPrefix(parts: readonly Part[]): string {
  const first = parts[0];
  if (typeof first !== 'string' || !first.startsWith('^')) return '';
  if (parts.some((p) => typeof p === 'string' && p.includes('|'))) return '';
  let prefix = '';
  let i = 1;
  while (i < first.length) {
    const c = first[i]!;
    let literal: string;
    let next: number;
    if (c === '\\' && i + 1 < first.length && REGEX_ESCAPED_LITERAL.includes(first[i + 1]!)) {
      literal = first[i + 1]!;
      next = i + 2;
    } else if (!REGEX_SYNTAX.includes(c)) {
      literal = c;
      next = i + 1;
    } else {
      break;
    }
    if (next < first.length && '?*+{'.includes(first[next]!)) break; // `ab?`: the b is optional
    prefix += literal;
    i = next;
  }
  return prefix;
}

/** Characters with a meaning of their own in a regex (outside a class). */
const REGEX_SYNTAX = '\\^$.|?*+()[]{}';
/** Characters that stand for themselves after a backslash (escapeRegex escapes `/` and `-` too). */
const REGEX_ESCAPED_LITERAL = `${REGEX_SYNTAX}/-`;

/**
 * A value as docker_auth puts it in a regular expression, Go's QuoteMeta and no group: a
 * quantifier right after it (`${account}+`) repeats its last character, as there. A last
 * character outside the BMP (two UTF-16 units, one character for Go) is grouped, so that it is
 * repeated whole.
 */
function regexValue(value: string): string {
  const last = value.length >= 2 ? value.codePointAt(value.length - 2)! : 0;
  if (last > 0xffff) return `${escapeRegex(value.slice(0, -2))}(?:${value.slice(-2)})`;
  return escapeRegex(value);
}

/** V8 says `Invalid regular expression: /(/: Unterminated group`; keep the last part. */
/**
 * Go's RE2 forms (docker_auth's regexes) that JavaScript, without the `u` flag, reads as plain
 * letters instead of refusing: `\z` would match a `z`, so a rule written for docker_auth would
 * silently match other names. The reason to give, or undefined.
 */
function goOnlySyntax(text: string, namedGroups: boolean): string | undefined {
  let inClass = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\') {
      const problem = escapeProblem(text[i + 1] ?? '', text.slice(i + 2), inClass, namedGroups);
      if (problem !== undefined) return problem;
      i++;
    } else if (!inClass) {
      if (ch !== '[') continue;
      inClass = true;
      // Go reads a `]` right after `[` or `[^` as a member; JavaScript closes the class there.
      const negated = text[i + 1] === '^';
      if (text[i + (negated ? 2 : 1)] === ']') {
        return negated
          ? '`]` right after `[^` is a character in Go, but JavaScript reads `[^]` as any character: write \\]'
          : '`]` right after `[` is a character in Go, but JavaScript reads `[]` as an empty class: write \\]';
      }
      if (negated) i++;
    } else if (ch === ']') {
      inClass = false;
    } else if (ch === '[') {
      // Go reads `[:alpha:]` as a POSIX class inside a bracket expression only.
      const posix = POSIX_CLASS.exec(text.slice(i));
      if (posix) {
        return `${posix[0]} is a Go (POSIX) class; JavaScript reads it as the characters themselves: write a class such as [A-Za-z]`;
      }
    }
  }
  return undefined;
}

const POSIX_CLASS =
  /^\[:\^?(?:alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|space|upper|word|xdigit):\]/;

/** What is wrong with the escape `\` + `c` followed by `rest`, if JavaScript reads it otherwise than Go. */
function escapeProblem(c: string, rest: string, inClass: boolean, namedGroups: boolean): string | undefined {
  // `\0` alone is NUL in both. Any other digit is an octal code in Go (RE2 has no
  // back-references), a back-reference or legacy octal in JavaScript.
  if (/^[0-9]$/.test(c) && !(c === '0' && !/^[0-9]/.test(rest))) {
    return `\\${c} is an octal character code in Go and something else in JavaScript (a back-reference, or other digits): write \\xHH or \\uHHHH`;
  }
  if (!/^[A-Za-z]$/.test(c)) return undefined;
  if (inClass && c === 'B') {
    return '\\B inside a class is no escape in JavaScript (it would match the letter B): write B';
  }
  if (c === 'x') {
    if (/^[0-9A-Fa-f]{2}/.test(rest)) return undefined;
    return rest.startsWith('{')
      ? '\\x{…} is Go syntax for a character by its code; JavaScript reads it otherwise: write \\xHH (two hex digits) or \\uHHHH'
      : '\\x needs two hex digits in JavaScript (without them it matches the letter x): write \\xHH';
  }
  if (c === 'u') {
    return /^[0-9A-Fa-f]{4}/.test(rest)
      ? undefined
      : '\\u needs four hex digits in JavaScript (without them it matches the letter u): write \\uHHHH';
  }
  if (c === 'c') {
    return /^[A-Za-z]/.test(rest)
      ? undefined
      : '\\c needs a letter in JavaScript (without one it matches a backslash and c): write \\cX';
  }
  if (c === 'k') {
    // A back-reference to a named group; without named groups JavaScript reads the letter k.
    return rest.startsWith('<') && namedGroups
      ? undefined
      : '\\k without <name> is no escape in JavaScript (it would match the letter k): write k';
  }
  if (JS_ESCAPES.includes(c)) return undefined;
  const go = GO_ESCAPES[c];
  return go
    ? `\\${c} is Go syntax for ${go.what}; in JavaScript it is the letter ${c}: ${go.instead}`
    : `\\${c} is no escape in JavaScript (it would match the letter ${c}): write ${c}`;
}

/** Letters that escape something in a JavaScript regex without the `u` flag (x, u, c, k apart). */
const JS_ESCAPES = 'bBdDfnrsStvwW';

/** Go's escapes that JavaScript lacks, and what to write instead. */
const GO_ESCAPES: Readonly<Record<string, { what: string; instead: string }>> = {
  A: { what: 'the start of the text', instead: 'write ^' },
  z: { what: 'the end of the text', instead: 'write $' },
  Q: { what: 'quoting', instead: 'escape each character with \\ instead' },
  E: { what: 'the end of quoting', instead: 'escape each character with \\ instead' },
  p: { what: 'a Unicode class', instead: 'write the characters as a class, such as [A-Za-z]' },
  P: {
    what: 'a negated Unicode class',
    instead: 'write the characters as a negated class, such as [^A-Za-z]',
  },
  C: { what: 'any byte', instead: 'write .' },
  a: { what: 'the bell character', instead: 'write \\x07' },
};

/**
 * Go's group forms that JavaScript refuses, for a regex that did not compile: named groups
 * `(?P<name>…)` and inline flags (`(?i)`, `(?s:…)`), which docker_auth's configs may hold.
 */
function goGroup(text: string): string | undefined {
  if (GO_NAMED_GROUP.test(text)) return '(?P<name>…) is a Go named group: JavaScript writes (?<name>…)';
  const flags = GO_FLAGS.exec(text);
  if (flags) {
    return `${flags[1]} is a Go inline flag, which JavaScript does not have: write both cases as a class, e.g. [Aa]`;
  }
  return undefined;
}

/** An unescaped `(?P<`. */
const GO_NAMED_GROUP = /(?<!\\)(?:\\\\)*\(\?P</;
/** An unescaped `(?i)` or `(?i:`, any of Go's flags i, m, s, U, with `-` to clear. */
const GO_FLAGS = /(?<!\\)(?:\\\\)*(\(\?[imsU-]+[):])/;

function regexReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return /: ([^:]+)$/.exec(message)?.[1] ?? message;
}

/** Joins the parts, each placeholder's value escaped; undefined when one cannot be resolved. */
function expand(
  parts: readonly Part[],
  resolve: Resolve,
  escapeValue: (value: string, placeholder: Placeholder) => string,
): string | undefined {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
    } else {
      const value = resolve(part);
      if (value === undefined) return undefined;
      out += escapeValue(value, part);
    }
  }
  return out;
}

/**
 * `expand` as docker_auth substitutes: label values and captures go in as they are (it escapes
 * only `${account}`, `${type}`, `${name}` and `${service}`, with Go's QuoteMeta, which regauth's
 * escaping stands for here).
 */
function expandAsDockerAuth(
  parts: readonly Part[],
  resolve: Resolve,
  escapeValue: (value: string) => string,
  isRaw: RawKind,
): string | undefined {
  return expand(parts, resolve, (value, placeholder) => (isRaw(placeholder) ? value : escapeValue(value)));
}

/**
 * docker_auth's readings of a glob's alternatives under `resolve`, each where it differs from
 * regauth's: a label value or capture holding glob syntax (`prod/*`), read there as part of the
 * pattern, or making the whole text `/…/`, read there as a regular expression. regauth matches
 * such a value as the text it is, so that it cannot widen a grant; a value only docker_auth's
 * reading matches has the rule decide and grant nothing (Unmatchable), so that a rule meant to
 * restrict (`actions: []`, or fewer actions than a later rule) still does (docs/acl.md
 * "Placeholders"). A glob is read by Go's procedure (go-glob.ts), a regular expression by RE2's
 * (PatternCache.re2): both in linear time, as a client's backend can write the values. [] when no
 * value holds such syntax: the common case.
 */
function dockerAuthReadings(
  alternatives: readonly (readonly Part[])[],
  resolve: Resolve,
  cache: PatternCache,
  isRaw: RawKind,
): ValueTest[] {
  const out: ValueTest[] = [];
  for (const parts of alternatives) {
    if (!parts.some((p) => typeof p !== 'string' && isRaw(p))) continue;
    const text = expandAsDockerAuth(parts, resolve, escapeGlob, isRaw);
    if (text === undefined) continue;
    if (text.length > 2 && text.startsWith('/') && text.endsWith('/')) {
      const regex = cache.re2(text.slice(1, -1));
      if (regex !== null) out.push(regex);
    } else if (text !== expand(parts, resolve, escapeGlob)) {
      // Built each time: linear to build, and kept out of the cache a value could flood.
      out.push(goGlob(text));
    }
  }
  return out;
}

function distinct(parts: readonly Part[]): Placeholder[] {
  const seen = new Map<string, Placeholder>();
  for (const part of parts) if (typeof part !== 'string' && !seen.has(part.text)) seen.set(part.text, part);
  return [...seen.values()];
}

const PLACEHOLDER = /^\$\{(?:(account|type|name|service)(?::(\d{1,9}))?|labels:([^}]+))\}$/;
const PLACEHOLDER_HELP =
  'expected ${account}, ${type}, ${name}, ${service}, ${account:N} (a capture group) or ${labels:KEY}';

/** Splits a pattern body into literal text and placeholders. */
function parseTemplate(body: string): Part[] {
  const parts: Part[] = [];
  let at = 0;
  for (let open = body.indexOf('${'); open >= 0; open = body.indexOf('${', at)) {
    const close = body.indexOf('}', open);
    if (close < 0) {
      throw new SyntaxError(
        `unterminated placeholder ${JSON.stringify(body.slice(open, open + 24))}; ${PLACEHOLDER_HELP}`,
      );
    }
    const text = body.slice(open, close + 1);
    let backslashes = 0;
    while (body[open - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 1) {
      // `\${account}` would escape the value's first character (`\d` for an account "d...").
      throw new SyntaxError(
        `placeholder ${text} must not follow a backslash; to write a literal "\${" use "$\\{"`,
      );
    }
    if (open > at) parts.push(body.slice(at, open));
    parts.push(parsePlaceholder(text));
    at = close + 1;
  }
  if (at < body.length) parts.push(body.slice(at));
  return parts;
}

function parsePlaceholder(text: string): Placeholder {
  const m = PLACEHOLDER.exec(text);
  if (!m) {
    if (text === '${labels:}' || text === '${labels}') {
      throw new SyntaxError(`placeholder ${text} needs a label name, e.g. \${labels:group}`);
    }
    throw new SyntaxError(`unknown placeholder ${text}; ${PLACEHOLDER_HELP}`);
  }
  const [, field, group, label] = m;
  if (label !== undefined) return { kind: 'label', label, text };
  if (group !== undefined) return { kind: 'group', field: field as RequestField, group: Number(group), text };
  return { kind: 'value', field: field as RequestField, text };
}

/**
 * Globs and regexes built from patterns with placeholders, keyed by the expanded pattern, so
 * a rule like `${account}/**` is built once per account rather than once per request.
 * Bounded: when it is full, the oldest entry goes (a hot entry evicted this way is simply
 * built again; cheaper than reordering on every hit).
 */
/**
 * How many of docker_auth's regular expressions (PatternCache.re2) a cache keeps: as many as one
 * rule's label combinations (MAX_LABEL_COMBINATIONS in acl.ts), so one caller's values all stay.
 */
const RE2_ENTRIES = 10_000;

/** Characters with a meaning in a regular expression: a value without any reads alike either way. */
const REGEX_SPECIAL = /[\\^$.|?*+()[\]{}]/;

/** A test passing what any of `tests` passes; undefined for none. */
function anyOf(tests: readonly ValueTest[]): ValueTest | undefined {
  if (tests.length <= 1) return tests[0];
  return (value) => tests.some((test) => test(value));
}

export class PatternCache {
  readonly #max: number;
  readonly #entries = new Map<string, Minimatch | RegExp | null>();
  readonly #re2 = new Map<string, ValueTest | null>();

  constructor(max = 10_000) {
    if (!Number.isInteger(max) || max < 1)
      throw new TypeError('the pattern cache size must be a positive integer');
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The glob for `source` (without brace expansion), or null when minimatch refuses it (e.g. too long). */
  glob(source: string): Minimatch | null {
    return this.#get(`g${source}`, () => new Minimatch(source, EXPANDED_GLOB_OPTIONS)) as Minimatch | null;
  }

  /**
   * `source` read as Go's regexp reads it (docker_auth's regular expressions: RE2, through re2js,
   * in time linear in the value), searched unanchored as regexp.Match does; null when RE2 refuses
   * it (docker_auth's no match). Kept apart from the other entries, with a budget of its own: the
   * values that make these texts come from clients' backends, and must not crowd out the
   * patterns every request uses.
   */
  re2(source: string): ValueTest | null {
    const hit = this.#re2.get(source);
    if (hit !== undefined) return hit;
    let built: ValueTest | null;
    try {
      const re = RE2JS.compile(source);
      built = (value) => re.matcher(value).find();
    } catch {
      built = null;
    }
    if (this.#re2.size >= RE2_ENTRIES) this.#re2.delete(this.#re2.keys().next().value!);
    this.#re2.set(source, built);
    return built;
  }

  /** The regex for `source`, or null when it does not compile. */
  regex(source: string): RegExp | null {
    return this.#get(`r${source}`, () => {
      const regex = new RegExp(source);
      // V8 compiles a regex when it first runs, and only then finds it too large: run it now.
      regex.test('');
      return regex;
    }) as RegExp | null;
  }

  #get(key: string, build: () => Minimatch | RegExp): Minimatch | RegExp | null {
    const hit = this.#entries.get(key);
    if (hit !== undefined) return hit;
    let built: Minimatch | RegExp | null;
    try {
      built = build();
    } catch {
      // Reachable only through a value long enough to pass minimatch's length limit or V8's
      // regex size: the pattern is then unmatchable as written (Unmatchable).
      built = null;
    }
    // A Map iterates in insertion order: the first key is the oldest.
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, built);
    return built;
  }
}
