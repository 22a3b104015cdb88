import yaml from 'js-yaml';
import { ConfigError } from '../core/errors.js';

/** Where each key of each parsed mapping (and each item of each sequence) stood in the file, 1-based lines. */
export type LineIndex = WeakMap<object, Map<string | number, number>>;

export interface ParsedYaml {
  readonly value: unknown;
  readonly lines: LineIndex;
  /**
   * Per mapping, its keys that YAML read as something other than a string (`~`, `123`, `true`):
   * JavaScript turns them into the strings `null`, `123`, `true`, which must not pass for names.
   */
  readonly nonStringKeys: WeakMap<object, Set<string>>;
}

/**
 * YAML 1.2's core schema (no timestamps, no `yes`/`no` booleans), plus merge keys (`<<: *rule`),
 * which docker_auth's configs may use.
 */
const SCHEMA = yaml.CORE_SCHEMA.extend({
  // js-yaml exports its types, but @types/js-yaml does not declare them.
  implicit: [(yaml as unknown as { types: { merge: yaml.Type } }).types.merge],
});

interface Frame {
  line: number;
  children: { result: unknown; line: number }[];
}

/**
 * Parses YAML with js-yaml, recording the line of every mapping key and sequence item
 * through js-yaml's `listener` hook, so schema errors can name the line as well as the path.
 */
export function parseYaml(text: string, file?: string): ParsedYaml {
  const lines: LineIndex = new WeakMap();
  const nonStringKeys = new WeakMap<object, Set<string>>();
  const stack: Frame[] = [{ line: 0, children: [] }];
  let value: unknown;
  try {
    value = yaml.load(text, {
      filename: file,
      schema: SCHEMA,
      listener(event, state) {
        if (event === 'open') {
          stack.push({ line: state.line + 1, children: [] });
          return;
        }
        const frame = stack.pop();
        if (!frame) return;
        const result: unknown = state.result;
        stack.at(-1)?.children.push({ result, line: frame.line });
        if (result === null || typeof result !== 'object') return;
        const index = new Map<string | number, number>();
        if (Array.isArray(result)) {
          if (frame.children.length === result.length) frame.children.forEach((c, i) => index.set(i, c.line));
        } else if (frame.children.length === 2 * Object.keys(result).length) {
          for (let i = 0; i < frame.children.length; i += 2) {
            const key = frame.children[i]!;
            index.set(String(key.result), key.line);
            if (typeof key.result !== 'string') {
              const set = nonStringKeys.get(result) ?? new Set<string>();
              set.add(String(key.result));
              nonStringKeys.set(result, set);
            }
          }
        }
        lines.set(result, index);
      },
    });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      const line = err.mark ? err.mark.line + 1 : undefined;
      throw new ConfigError('', `YAML syntax error: ${err.reason}`, { cause: err, line, file });
    }
    throw err;
  }
  return { value, lines, nonStringKeys };
}

/** The keys of the mapping at `path` that YAML read as something other than a string. */
export function nonStringKeysAt(parsed: ParsedYaml, path: readonly PropertyKey[]): ReadonlySet<string> {
  let node: unknown = parsed.value;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return new Set();
    node = (node as Record<string | number, unknown>)[typeof key === 'number' ? key : String(key)];
  }
  return (node !== null && typeof node === 'object' && parsed.nonStringKeys.get(node)) || new Set();
}

/** The line of the deepest element of `path` that the index knows. */
export function lineOf(parsed: ParsedYaml, path: readonly PropertyKey[]): number | undefined {
  let node: unknown = parsed.value;
  let line: number | undefined;
  for (const key of path) {
    if (node === null || typeof node !== 'object') break;
    const k = typeof key === 'number' ? key : String(key);
    const found = parsed.lines.get(node)?.get(k);
    if (found !== undefined) line = found;
    node = (node as Record<string | number, unknown>)[k];
  }
  return line;
}
