import { BadRequestError } from '../core/errors.js';
import { sortedUnique } from '../core/sorted.js';
import { isValidRepositoryName } from './reference.js';

/** One requested resource with the union of its requested actions. */
export interface Scope {
  /** Resource type without class: `repository`, `registry`. */
  readonly type: string;
  readonly name: string;
  /** Sorted, deduplicated. */
  readonly actions: readonly string[];
}

/** Bounds that keep a hostile request cheap; real clients send a handful of scopes. */
export const MAX_SCOPES = 64;
export const MAX_SCOPE_LENGTH = 1024;

const TYPE = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/;
const ACTION = /^(?:\*|[a-z][a-z0-9_-]*)$/;

/**
 * Parses scope parameters (docs/http-api.md "Scopes"; distribution's docs/spec/auth/scope.md): each
 * value may hold several scopes separated by spaces; each is `type[(class)]:name:actions`. The name
 * may hold one `host:port` colon, so the type ends at the first colon and the actions start after
 * the last one. Entries for one resource are merged; the class is dropped (registry v3 deprecates
 * it and v2.8 would not match a token entry typed `repository(plugin)`). Throws BadRequestError
 * (400) on anything malformed.
 */
export function parseScopes(values: readonly string[]): Scope[] {
  const merged = new Map<string, { type: string; name: string; actions: Set<string> }>();
  let count = 0;
  for (const value of values) {
    for (const entry of value.split(' ')) {
      if (entry === '') continue;
      if (++count > MAX_SCOPES)
        throw new BadRequestError(`too many scopes (at most ${MAX_SCOPES})`, 'invalid_scope');
      const scope = parseOne(entry);
      const key = `${scope.type}\u0000${scope.name}`;
      const existing = merged.get(key);
      if (existing) for (const a of scope.actions) existing.actions.add(a);
      else merged.set(key, { type: scope.type, name: scope.name, actions: new Set(scope.actions) });
    }
  }
  return [...merged.values()].map((s) => ({
    type: s.type,
    name: s.name,
    actions: sortedUnique([...s.actions]),
  }));
}

function parseOne(entry: string): Scope {
  if (entry.length > MAX_SCOPE_LENGTH) throw invalid('scope too long');
  const first = entry.indexOf(':');
  const last = entry.lastIndexOf(':');
  if (first <= 0 || last === first)
    throw invalid(`malformed scope ${quote(entry)}; expected type:name:actions`);
  const typeText = entry.slice(0, first);
  const name = entry.slice(first + 1, last);
  const actionText = entry.slice(last + 1);
  const typeMatch = TYPE.exec(typeText);
  if (!typeMatch) throw invalid(`malformed scope type ${quote(typeText)}`);
  const type = typeMatch[1]!;
  // The catalog and other registry-level resources are plain words; repositories follow the reference grammar.
  const nameOk =
    type === 'repository' ? isValidRepositoryName(name) : /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(name);
  if (!nameOk) throw invalid(`invalid ${type} name ${quote(name)}`);
  const actions = actionText.split(',');
  if (actions.some((a) => !ACTION.test(a))) throw invalid(`malformed actions ${quote(actionText)} in scope`);
  return { type, name, actions };
}

function invalid(message: string): BadRequestError {
  return new BadRequestError(message, 'invalid_scope');
}

/**
 * Quotes a client value for an error message (the reply's and the audit line's), cut short so a
 * huge input cannot bloat the reply. A value holding a line break or an `=` is not quoted: that is
 * a form whose fields are not separated by `&` (one a line, or by `;`), read as one field that
 * holds the fields after it, the password among them.
 */
export function quote(value: string): string {
  if (/[\r\n=]/.test(value))
    return '(not shown: it holds a line break or "=", as fields not separated by "&" do)';
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** `type:name:a,b`, as the registry writes a scope. */
export function formatScope(scope: { type: string; name: string; actions: readonly string[] }): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(',')}`;
}
