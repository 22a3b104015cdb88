import { escape, Minimatch, type MinimatchOptions } from 'minimatch';

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

/** A successful match: a regex's groups (index 0 is the whole match), or none for a glob. */
export type Captures = readonly (string | undefined)[];

/** What a glob match returns: a glob has no capture groups, so every `${field:N}` on it is unresolvable. */
export const NO_CAPTURES: Captures = Object.freeze([]);

/**
 * An ACL pattern (design.md "ACL semantics"), compiled at load.
 *
 * A pattern longer than two characters that starts and ends with `/` is a regular expression
 * searched unanchored; anything else is a minimatch glob over the whole value. A glob without
 * any of `*?[]{}()\` is compared for equality.
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
   * The first `/`-separated segment every matching value has, when this is a glob without
   * placeholders whose first segment is literal (`team` for `team/**`). Lets the ACL index rules.
   */
  readonly head: string | undefined;
  /**
   * Matches `value`, resolving placeholders through `resolve`; built patterns are kept in `cache`.
   * Returns the captures, or null when `value` does not match or a placeholder cannot be
   * resolved. Never throws.
   */
  match(value: string, resolve: Resolve, cache: PatternCache): Captures | null;
}

/**
 * minimatch options for every glob (design.md): `dot` so `*` matches `.hidden`; no negation
 * and no comments, so `!x` and `#x` are literal. The rest makes matching exact and
 * host-independent: patterns are matched as written (no `..` folding, which would let a
 * substituted `..` remove a segment), `a//b` is not `a/b`, and `\` escapes on every platform.
 */
export const GLOB_OPTIONS: MinimatchOptions = Object.freeze({
  dot: true,
  nonegate: true,
  nocomment: true,
  optimizationLevel: 0,
  preserveMultipleSlashes: true,
  platform: 'linux',
});

/** Characters that make a glob more than a literal (`!+@` are magic only before `(`). */
const GLOB_MAGIC = /[*?[\]{}()\\]/;

/**
 * Escapes a value for a glob so that it matches only itself: minimatch's `escape` with
 * braces, plus `,`, which is magic inside `{a,b}` and which `escape` leaves alone.
 */
export function escapeGlob(value: string): string {
  return escape(value, { magicalBraces: true }).replace(/,/g, '\\,');
}

/** Escapes a value for a regular expression (no `u` flag) so that it matches only itself. */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/**
 * Compiles one pattern. Throws a SyntaxError naming the problem: a regex that does not
 * compile, or a placeholder that is malformed (`${foo}`, `${labels:}`, an unterminated `${`).
 */
export function compilePattern(source: string): Pattern {
  const isRegex = source.length > 2 && source.startsWith('/') && source.endsWith('/');
  const parts = parseTemplate(isRegex ? source.slice(1, -1) : source);
  const placeholders = distinct(parts);
  return isRegex ? compileRegex(source, parts, placeholders) : compileGlob(source, parts, placeholders);
}

type Part = string | Placeholder;

function compileRegex(source: string, parts: readonly Part[], placeholders: readonly Placeholder[]): Pattern {
  // Values are escaped and wrapped in (?:…), so whether the regex compiles, and how many groups
  // it has, does not depend on them: checking once with empty values checks every request.
  const probe = expand(parts, () => '', wrapRegexValue)!;
  let regex: RegExp;
  try {
    regex = new RegExp(probe);
  } catch (err) {
    throw new SyntaxError(`invalid regular expression ${source}: ${regexReason(err)}`, { cause: err });
  }
  const groups = new RegExp(`${probe}|`).exec('')!.length - 1;
  const base = { source, kind: 'regex', placeholders, groups, literal: undefined, head: undefined } as const;
  if (placeholders.length === 0) return { ...base, match: (value) => regex.exec(value) };
  return {
    ...base,
    match(value, resolve, cache) {
      const expanded = expand(parts, resolve, wrapRegexValue);
      return expanded === undefined ? null : (cache.regex(expanded)?.exec(value) ?? null);
    },
  };
}

function compileGlob(source: string, parts: readonly Part[], placeholders: readonly Placeholder[]): Pattern {
  // Literal text without magic needs no glob engine: compare strings. Besides speed, this is
  // what the rule index relies on (an equal value, an equal first segment).
  const plain = parts.every((p) => typeof p !== 'string' || !GLOB_MAGIC.test(p));
  const firstSegment = source.split('/', 1)[0]!;
  const base = {
    source,
    kind: 'glob',
    placeholders,
    groups: 0,
    literal: plain && placeholders.length === 0 ? source : undefined,
    head: placeholders.length === 0 && !GLOB_MAGIC.test(firstSegment) ? firstSegment : undefined,
  } as const;
  if (placeholders.length === 0) {
    if (plain) return { ...base, match: (value) => (value === source ? NO_CAPTURES : null) };
    let glob: Minimatch;
    try {
      glob = new Minimatch(source, GLOB_OPTIONS);
      glob.match('');
    } catch (err) {
      throw new SyntaxError(`invalid glob ${JSON.stringify(source)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return { ...base, match: (value) => (glob.match(value) ? NO_CAPTURES : null) };
  }
  if (plain) {
    return {
      ...base,
      match: (value, resolve) => (expand(parts, resolve, (v) => v) === value ? NO_CAPTURES : null),
    };
  }
  return {
    ...base,
    match(value, resolve, cache) {
      const expanded = expand(parts, resolve, escapeGlob);
      return expanded !== undefined && cache.glob(expanded)?.match(value) ? NO_CAPTURES : null;
    },
  };
}

/** `(?:…)` keeps a quantifier after a placeholder applying to the whole value, and `${x}+` valid when it is empty. */
function wrapRegexValue(value: string): string {
  return `(?:${escapeRegex(value)})`;
}

/** V8 says `Invalid regular expression: /(/: Unterminated group`; keep the last part. */
function regexReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return /: ([^:]+)$/.exec(message)?.[1] ?? message;
}

/** Joins the parts, each placeholder's value escaped; undefined when one cannot be resolved. */
function expand(
  parts: readonly Part[],
  resolve: Resolve,
  escapeValue: (value: string) => string,
): string | undefined {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
    } else {
      const value = resolve(part);
      if (value === undefined) return undefined;
      out += escapeValue(value);
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
 * Bounded: the least recently used entry goes when it is full.
 */
export class PatternCache {
  readonly #max: number;
  readonly #entries = new Map<string, Minimatch | RegExp | null>();

  constructor(max = 10_000) {
    if (!Number.isInteger(max) || max < 1)
      throw new TypeError('the pattern cache size must be a positive integer');
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The glob for `source`, or null when minimatch refuses it (e.g. too long). */
  glob(source: string): Minimatch | null {
    return this.#get(`g${source}`, () => new Minimatch(source, GLOB_OPTIONS)) as Minimatch | null;
  }

  /** The regex for `source`, or null when it does not compile. */
  regex(source: string): RegExp | null {
    return this.#get(`r${source}`, () => new RegExp(source)) as RegExp | null;
  }

  #get(key: string, build: () => Minimatch | RegExp): Minimatch | RegExp | null {
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      // Map keeps insertion order: re-inserting marks the entry as most recently used.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    let built: Minimatch | RegExp | null;
    try {
      built = build();
    } catch {
      // Not reachable for patterns that passed compilePattern, short of minimatch's length
      // limit; a pattern that cannot be built matches nothing.
      built = null;
    }
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, built);
    return built;
  }
}
