import { isUtf8 } from 'node:buffer';
import yaml from 'js-yaml';
import { ConfigError, formatPath } from '../core/errors.js';
import type { NonStringKey } from '../core/section.js';

/** Where each key of each parsed mapping (and each item of each sequence) stood in the file, 1-based lines. */
export type LineIndex = WeakMap<object, Map<string | number, number>>;

export interface ParsedYaml {
  readonly value: unknown;
  readonly lines: LineIndex;
  /**
   * Per mapping, its keys that YAML read as something other than a string (`~`, `123`, `true`),
   * by the string JavaScript made of them (`null`, `123`, `true`; `0755` is `755`): what they were,
   * and the text written.
   */
  readonly nonStringKeys: WeakMap<object, Map<string, NonStringKey>>;
  /**
   * Per mapping or sequence, the text written for each of its values that YAML read as a number,
   * a boolean or null (`8080`, `0x1F`, `true`, `~`): Go's yaml.v2 gives that text to a string.
   * Also for a plain (unquoted, untagged) value yaml.v2, a YAML 1.1 reader, takes for a boolean
   * where YAML 1.2 reads a string (`yes`, `on`, `Y`): {@link yamlOneOneBoolean} reads it as yaml.v2 does.
   */
  readonly scalarText: WeakMap<object, Map<string | number, string>>;
}

/**
 * YAML 1.2's core schema (no timestamps, no `yes`/`no` booleans), plus merge keys (`<<: *rule`),
 * which docker_auth's configs may use.
 */
const SCHEMA = yaml.CORE_SCHEMA.extend({
  // js-yaml exports its types, but @types/js-yaml does not declare them.
  implicit: [(yaml as unknown as { types: { merge: yaml.Type } }).types.merge],
});

/**
 * A node js-yaml read (a mapping's keys and values alternate), the line it starts on, 1-based,
 * and, for a scalar, its text as written (without blanks or a comment around it).
 */
interface Child {
  readonly result: unknown;
  readonly line: number;
  readonly text?: string;
  /** A scalar written plain: no quotes, no tag, not an alias. */
  readonly plain?: true;
  /** A merge key (`<<`, plain or `!!merge`; a quoted '<<' is a key like any other). */
  readonly merge?: true;
}

/**
 * A scalar's text as written, from what the file holds between its start and end: without blanks
 * or a comment around it, nor its properties (`&anchor`, `!!int`); an alias (`*a`) as its anchor's
 * text (recorded in `anchors` as they come). Undefined for an alias to no scalar seen.
 */
function valueText(
  source: string,
  anchors: Map<string, string>,
): { readonly text: string | undefined; readonly plain: boolean } {
  let rest = source.trim();
  let anchor: string | undefined;
  let tagged = false;
  // The properties, and a comment between them and the value (`&port # the port` NL `8080`).
  for (let m = PROPERTY.exec(rest); m; m = PROPERTY.exec(rest)) {
    if (m[1] === '&') anchor = m[2];
    if (m[1] === '!') tagged = true;
    rest = rest.slice(m[0].length);
  }
  // js-yaml's end of an alias is past the blanks and comments after it (`*ver # note`).
  const alias = rest.startsWith('*');
  const value = alias ? anchors.get(/^\*([^\s,[\]{}]+)/.exec(rest)?.[1] ?? '') : unquoted(rest);
  if (anchor !== undefined && value !== undefined) anchors.set(anchor, value);
  return { text: value, plain: !alias && !tagged && value === rest };
}

const PROPERTY = /^(?:([&!])(\S*)\s+|#[^\n]*\n\s*)/;

/**
 * A node's text that is an alias and nothing else: its properties and comments, `*name`, then
 * only blanks and comments (js-yaml's end of an alias is past them). A mapping whose first key is
 * an alias (`*admin : {…}`) starts alike and goes on.
 */
const ALIAS_TEXT = /^(?:(?:[&!]\S*|#[^\n]*)\s+)*\*[^\s,[\]{}]+(?:\s*#[^\n]*)*\s*$/;

/** A scalar's text as its value: a quoted one (`!!int "0x1F"`, `'true'`) without its quotes. */
function unquoted(text: string): string {
  if (text.length >= 2 && text.startsWith("'") && text.endsWith("'"))
    return text.slice(1, -1).replaceAll("''", "'");
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    try {
      return JSON.parse(text) as string;
    } catch {
      return text.slice(1, -1);
    }
  }
  return text;
}

const MERGE_TAG = 'tag:yaml.org,2002:merge';

/** The plain scalars Go's yaml.v2 (YAML 1.1) reads as booleans, as its resolve table spells them. */
const YAML_1_1_TRUE = /^(?:[yY]|yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const YAML_1_1_BOOLEAN =
  /^(?:[yY]|yes|Yes|YES|true|True|TRUE|on|On|ON|[nN]|no|No|NO|false|False|FALSE|off|Off|OFF)$/;

/**
 * A value as Go's yaml.v2 reads it into a boolean, given its written text (scalarTextAt): a
 * boolean, or a plain `yes`, `on`, `Y` (`yEs` and a quoted `"yes"` are strings there);
 * undefined for anything else.
 */
export function yamlOneOneBoolean(value: unknown, text: string | undefined): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string' || text === undefined || !YAML_1_1_BOOLEAN.test(text)) return undefined;
  return YAML_1_1_TRUE.test(text);
}

/**
 * Loads YAML with js-yaml, calling `node` once for each mapping and sequence with its children
 * in order, through js-yaml's `listener` hook. An alias (`*u`) reports its anchor's node again,
 * without children: it is not passed on, so what `node` recorded when the node was read stands.
 */
function loadNodes(
  text: string,
  options: Pick<yaml.LoadOptions, 'filename' | 'json'>,
  node: (result: object, children: readonly Child[]) => void,
  /**
   * An alias to a mapping or sequence still being read, one holding the alias (`&a {x: 1, y: *a}`,
   * `&a {<<: *a}`): told with the node that holds the alias, once that is read, and the alias's
   * place among its children. js-yaml hands such an alias the half-built node; it is not passed
   * on to `node`, which would record it with no children (and drop what it holds so far).
   */
  enclosing: (holder: object, children: readonly Child[], at: number) => void = () => undefined,
): unknown {
  const stack: { line: number; position: number; children: Child[]; enclosing?: number[] }[] = [
    { line: 0, position: 0, children: [] },
  ];
  const seen = new WeakSet<object>();
  // js-yaml counts positions in the text after a leading BOM.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const anchors = new Map<string, string>();
  return yaml.load(text, {
    ...options,
    schema: SCHEMA,
    // js-yaml's own bound is 10,000 merge keys a file: a 2,600-rule ACL of `- <<: *base` rules
    // passed it. refuseExpansion bounds what merges and aliases expand to instead.
    // (js-yaml 4.3's option; @types/js-yaml does not declare it.)
    ...({ maxTotalMergeKeys: MAX_EXPANDED_VALUES } as yaml.LoadOptions),
    listener(event, state) {
      if (event === 'open') {
        stack.push({ line: state.line + 1, position: state.position, children: [] });
        return;
      }
      const frame = stack.pop();
      if (!frame) return;
      const result: unknown = state.result;
      if (result === null || typeof result !== 'object') {
        const written = valueText(body.slice(frame.position, state.position), anchors);
        stack.at(-1)?.children.push({
          result,
          line: frame.line,
          ...(written.text === undefined ? {} : { text: written.text }),
          ...(written.plain ? { plain: true } : {}),
          // @types/js-yaml does not declare the node's tag.
          ...((state as unknown as { tag?: string }).tag === MERGE_TAG ? { merge: true } : {}),
        });
        return;
      }
      const holder = stack.at(-1);
      holder?.children.push({ result, line: frame.line });
      if (seen.has(result)) {
        if (frame.enclosing) for (const at of frame.enclosing) enclosing(result, frame.children, at);
        return;
      }
      // Every node closes before an alias can name it, but one the alias sits inside. (With a
      // comment before the alias, js-yaml reports it twice, in a node around it: both are it.)
      if (holder && ALIAS_TEXT.test(body.slice(frame.position, state.position).trimStart())) {
        (holder.enclosing ??= []).push(holder.children.length - 1);
        return;
      }
      seen.add(result);
      node(result, frame.children);
      if (frame.enclosing) for (const at of frame.enclosing) enclosing(result, frame.children, at);
    },
  });
}

/**
 * A config file's bytes as text. Refused unless UTF-8, naming the line and offset of the first
 * byte that is not: read as UTF-8 regardless, a Latin-1 `josé` would load as the user `jos\uFFFD`.
 */
export function utf8Text(bytes: Buffer, file?: string): string {
  const text = bytes.toString('utf8');
  if (isUtf8(bytes)) return text;
  // Up to the first bad byte every character is as written (a U+FFFD written as such is 3 bytes).
  let at = 0;
  for (const ch of text) {
    if (ch === '\uFFFD' && !(bytes[at] === 0xef && bytes[at + 1] === 0xbf && bytes[at + 2] === 0xbd)) break;
    at += Buffer.byteLength(ch);
  }
  const line = bytes.subarray(0, at).filter((b) => b === 0x0a).length + 1;
  const byte = (bytes[at] ?? 0).toString(16).padStart(2, '0');
  throw new ConfigError('', `not UTF-8 (byte 0x${byte} at offset ${at}); save the file as UTF-8`, {
    line,
    file,
  });
}

/**
 * Parses YAML with js-yaml, recording the line of every mapping key and sequence item, so schema
 * errors can name the line as well as the path.
 */
export function parseYaml(
  text: string,
  file?: string,
  /** Who reads such files, for the note on a key given twice (the last value wins there). */
  lastWins: string | null = 'docker_auth',
): ParsedYaml {
  const lines: LineIndex = new WeakMap();
  const nonStringKeys = new WeakMap<object, Map<string, NonStringKey>>();
  const scalarText = new WeakMap<object, Map<string | number, string>>();
  const written = (result: object, key: string | number, child: Child) => {
    const v = child.result;
    if (child.text === undefined) return;
    const yamlOneOne = typeof v === 'string' && child.plain === true && YAML_1_1_BOOLEAN.test(child.text);
    if (!(v === null || typeof v === 'number' || typeof v === 'boolean' || yamlOneOne)) return;
    const map = scalarText.get(result) ?? new Map<string | number, string>();
    map.set(key, child.text);
    scalarText.set(result, map);
  };
  const problems: Problem[] = [];
  /** The mappings that held a `<<:`, with the line of their first. */
  const merged = new WeakMap<object, number>();
  const noteNonString = (mapping: object, name: string, key: NonStringKey) => {
    const map = nonStringKeys.get(mapping) ?? new Map<string, NonStringKey>();
    map.set(name, key);
    nonStringKeys.set(mapping, map);
  };
  /**
   * Rebuilds a mapping js-yaml read with each key as written (respelled) and what a merge
   * (`<<: *base`) brought in, recording the line, the written value text and the key's type of
   * every key, merged ones included (copied from the mapping they were written in).
   *
   * A key YAML read as a number or a boolean takes its text as written, as docker_auth's yaml.v2
   * does for every key it decodes into a name (JavaScript spells `0755` as 755, `1.50` as 1.5,
   * `True` as true). js-yaml merged under JavaScript's spelling, so the merge is done again here
   * under the written one (`{<<: {1: a}, 1.0: b}` keeps both): keys written in the mapping win
   * over merged ones, and earlier mappings of a merge list over later ones. Where yaml.v2 would
   * read the mapping otherwise, it is refused, naming the lines (see `problems`): two written keys
   * that respell alike, `<<:` given twice, a key written before a merge that brings it too, and a
   * `match` or `labels` mapping that leaves out keys of the one a merge brings (yaml.v2 merges the
   * two key by key there: {@link STRUCT_KEYS}).
   *
   * A mapping with a key whose value is left out (`{a, b: 1}`, `? a`: js-yaml reports no node for
   * it, so keys and values no longer pair up) is left as js-yaml read it.
   */
  const readMapping = (
    mapping: Record<string, unknown>,
    children: readonly Child[],
    index: Map<string | number, number>,
  ) => {
    const pairs: [Child, Child][] = [];
    for (let i = 0; i < children.length; i += 2) {
      const key = children[i]!;
      const entry = children[i + 1];
      if (entry === undefined) return;
      if (!key.merge && !Object.is(mapping[String(key.result)], entry.result)) return;
      pairs.push([key, entry]);
    }
    const problem = (key: string, line: number, message: string) =>
      problems.push({ mapping, key, line, message });
    const final = new Map<string, unknown>();
    const writtenHere = new Set<string>();
    /** Keys a later `<<:` brings that an earlier `<<:` of the mapping brings too. */
    const broughtTwice: { readonly name: string; readonly earlier: number; readonly at: number }[] = [];
    const sources: {
      readonly source: Record<string, unknown>;
      readonly line: number;
      readonly merge: number;
    }[] = [];
    let mergeKeys = 0;
    for (const [key, entry] of pairs) {
      if (key.merge) {
        if (!merged.has(mapping)) merged.set(mapping, key.line);
        mergeKeys++;
        const from = entry.result;
        // What this `<<:` brings that an earlier `<<:` of the mapping brings too.
        const again = new Map<string, number>();
        for (const source of Array.isArray(from) ? from : [from]) {
          if (source === null || typeof source !== 'object') continue;
          for (const name of Object.keys(source)) {
            const earlier = sources.find((s) => s.merge !== mergeKeys && Object.hasOwn(s.source, name));
            if (earlier) again.set(name, earlier.line);
            if (!final.has(name)) continue;
            problem(
              name,
              index.get(name)!,
              `written on line ${index.get(name)!}, before the merge on line ${key.line} that brings it too: docker_auth takes the merged value there, regauth this one; write it after the <<: line`,
            );
          }
          sources.push({ source: source as Record<string, unknown>, line: key.line, merge: mergeKeys });
        }
        for (const [name, earlier] of again) broughtTwice.push({ name, earlier, at: key.line });
        continue;
      }
      const spelled = String(key.result);
      const respell = typeof key.result === 'number' || typeof key.result === 'boolean';
      const name = respell && key.text !== undefined ? key.text : spelled;
      if (final.has(name)) {
        problem(
          name,
          key.line,
          `given twice (lines ${index.get(name) ?? key.line} and ${key.line}); keep one${lastWins ? ` (${lastWins} used the last)` : ''}`,
        );
        continue;
      }
      final.set(name, mapping[spelled]);
      writtenHere.add(name);
      index.set(name, key.line);
      written(mapping, name, entry);
      if (typeof key.result !== 'string') {
        noteNonString(mapping, name, {
          type: respell ? (typeof key.result as 'number' | 'boolean') : 'null',
          text: key.text ?? name,
        });
      }
    }
    // A key two `<<:` bring that the mapping writes itself reads alike: the written value wins
    // in both (yaml.v2 applies it last).
    const twice = broughtTwice.find((b) => !writtenHere.has(b.name));
    if (twice) {
      problem(
        '<<',
        twice.at,
        `given twice (lines ${twice.earlier} and ${twice.at}), both bringing ${JSON.stringify(twice.name)}: docker_auth lets the later merge win, regauth the earlier; write one <<: with a list, the mapping that should win first`,
      );
    }
    for (const { source, line: mergeLine } of sources) {
      for (const [name, v] of Object.entries(source)) {
        const mine = final.get(name);
        if (final.has(name)) {
          if (STRUCT_KEYS.has(name) && !covers(mine, v)) {
            if (writtenHere.has(name)) {
              problem(
                name,
                index.get(name)!,
                `leaves out what the ${name} merged on line ${mergeLine} holds: docker_auth merges the two key by key there, regauth takes this one whole; write every key out here`,
              );
            } else {
              problem(
                name,
                mergeLine,
                `brought by more than one mapping of the merge on line ${mergeLine}, each holding keys the other lacks: docker_auth merges them key by key there, regauth takes the first whole; write ${name} out in this mapping`,
              );
            }
          }
          continue;
        }
        final.set(name, v);
        const line = lines.get(source)?.get(name);
        if (line !== undefined) index.set(name, line);
        const text = scalarText.get(source)?.get(name);
        if (text !== undefined) {
          const map = scalarText.get(mapping) ?? new Map<string | number, string>();
          map.set(name, text);
          scalarText.set(mapping, map);
        }
        const odd = nonStringKeys.get(source)?.get(name);
        if (odd) noteNonString(mapping, name, odd);
      }
    }
    for (const name of Object.keys(mapping)) delete mapping[name];
    for (const [name, v] of final) {
      // Defined, not assigned: a key named __proto__ is a key (refused later), not the prototype.
      Object.defineProperty(mapping, name, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  };
  /** Aliases to a node that holds them (loadNodes' `enclosing`): refused before anything else. */
  const aliasProblems: Problem[] = [];
  /** The list of a `<<: [*a, *b]` and the mapping it merges into: the list is not in the value. */
  const mergeLists = new WeakMap<object, object>();
  let value: unknown;
  try {
    value = loadNodes(
      text,
      { filename: file },
      (result, children) => {
        const index = new Map<string | number, number>();
        for (let i = 0; i + 1 < children.length; i += 2) {
          const list = children[i + 1]!.result;
          if (children[i]!.merge && Array.isArray(list)) mergeLists.set(list, result);
        }
        if (Array.isArray(result)) {
          if (children.length === result.length) {
            children.forEach((c, i) => {
              index.set(i, c.line);
              written(result, i, c);
            });
          }
        } else {
          readMapping(result as Record<string, unknown>, children, index);
        }
        lines.set(result, index);
      },
      (holder, children, at) => {
        const alias = children[at]!;
        const key = Array.isArray(holder)
          ? at
          : children[at - 1]?.merge
            ? '<<'
            : String(children[at - 1]?.result);
        aliasProblems.push({
          mapping: holder,
          key,
          line: alias.line,
          message: `an alias to ${Array.isArray(alias.result) ? 'a list' : 'a mapping'} that holds it: its value would be itself, half read; write the values out`,
        });
      },
    );
    // yaml.v2 merges each section a top-level `<<:` brings with the one written key by key
    // (`server:` beside a merged server keeps its TLS there); regauth would replace it whole.
    if (value !== null && typeof value === 'object' && merged.has(value)) {
      problems.unshift({
        mapping: value,
        key: '<<',
        line: merged.get(value)!,
        message:
          'a merge at the top level: docker_auth merges each section it brings with the one written key by key, regauth would not; write the sections out',
      });
    }
    problems.unshift(...aliasProblems);
    const first = problems[0];
    if (first) {
      const owner = mergeLists.get(first.mapping);
      const at = owner ? [...pathTo(value, owner), '<<'] : pathTo(value, first.mapping);
      throw new ConfigError(formatPath([...at, first.key]), first.message, {
        line: first.line,
        file,
      });
    }
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      const line = err.mark ? err.mark.line + 1 : undefined;
      // Never js-yaml's error as the cause: its message quotes the line, which may hold a secret.
      if (err.reason === 'duplicated mapping key' && line !== undefined) {
        const twice = duplicateKey(text, line, lastWins);
        if (twice) throw new ConfigError(twice.path, twice.message, { line, file });
      }
      throw new ConfigError('', `YAML syntax error: ${syntaxReason(err.reason)}`, { line, file });
    }
    throw err;
  }
  refuseReservedKeys(value, lines, file);
  refuseExpansion(value, file);
  return { value, lines, nonStringKeys, scalarText };
}

/** The names of YAML's type repository (yaml.org/type), for tags written `!!name`. */
const YAML_TYPES = new Set([
  'binary',
  'bool',
  'float',
  'int',
  'map',
  'merge',
  'null',
  'omap',
  'pairs',
  'seq',
  'set',
  'str',
  'timestamp',
  'value',
  'yaml',
]);

/**
 * js-yaml's reason for a syntax error, without the text of the file it quotes: a secret pasted
 * where its file's path belongs, or a password where its hash does, is read as a tag when it
 * starts with `!` and as an alias when it starts with `*`, and js-yaml names the tag or the alias
 * (docs/security.md: config errors never repeat a secret). Those two are said with what to do;
 * any other reason loses what it quotes.
 */
export function syntaxReason(reason: string): string {
  // One of YAML's own types (`!!binary`, `!!timestamp`, `!!set`), which docker_auth's YAML 1.1
  // reader takes and regauth's YAML 1.2 core schema does not: a fixed name, never a secret, and
  // quoting would make the value the tag's text.
  const builtIn = /^unknown tag !<tag:yaml\.org,2002:([a-z]+)>$/.exec(reason)?.[1];
  if (builtIn !== undefined && YAML_TYPES.has(builtIn)) {
    return `the tag !!${builtIn}, which regauth does not read: write the value it stands for`;
  }
  if (reason.startsWith('unknown tag ')) {
    return 'unknown tag (a value that starts with `!` is read as a YAML tag: quote it)';
  }
  if (reason.startsWith('unidentified alias ')) {
    return 'an alias no anchor names (a value that starts with `*` is read as a YAML alias: quote it)';
  }
  return reason
    .replace(/!<[^>]*>/g, 'its')
    .replace(/^undeclared tag handle ".*"$/s, 'undeclared tag handle')
    .replace(/"[^"]*"/g, 'this')
    .replace(/^(tag (?:name|prefix) (?:cannot contain such characters|is malformed)): .*$/s, '$1');
}

/**
 * Keys whose mapping docker_auth's yaml.v2 decodes into a structure or a map already filled by a
 * merge (an ACL rule's `match` and its `labels`, a user's `labels`): a mapping written there is
 * merged into the merged one key by key, where js-yaml, and so regauth, replaces it whole.
 */
const STRUCT_KEYS = new Set(['match', 'labels']);

/**
 * Whether `written` replacing `merged` reads as yaml.v2's key-by-key merge does: every key of a
 * merged mapping is written again (within a `labels` mapping too). Anything else is covered.
 */
function covers(written: unknown, merged: unknown): boolean {
  const isMapping = (x: unknown): x is Record<string, unknown> =>
    x !== null && typeof x === 'object' && !Array.isArray(x);
  if (!isMapping(written) || !isMapping(merged)) return true;
  return Object.entries(merged).every(
    ([k, v]) => Object.hasOwn(written, k) && (!STRUCT_KEYS.has(k) || covers(written[k], v)),
  );
}

/** A mapping yaml.v2 would read otherwise than js-yaml, at one of its keys. */
interface Problem {
  readonly mapping: object;
  readonly key: string | number;
  readonly line: number;
  readonly message: string;
}

/** The path from `root` to `target` (a mapping or list within it), each node visited once. */
function pathTo(root: unknown, target: object): (string | number)[] {
  const seen = new Set<object>();
  const queue: { node: unknown; path: (string | number)[] }[] = [{ node: root, path: [] }];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const { node, path } = next;
    if (node === target) return path;
    if (node === null || typeof node !== 'object' || seen.has(node)) continue;
    seen.add(node);
    for (const [k, child] of Object.entries(node)) {
      queue.push({ node: child, path: [...path, Array.isArray(node) ? Number(k) : k] });
    }
  }
  return [];
}

/** The most values a file may hold once its aliases are expanded (a 10,000-rule ACL is 70,000). */
const MAX_EXPANDED_VALUES = 1_000_000;

/**
 * Refuses a file whose aliases expand past MAX_EXPANDED_VALUES: js-yaml shares an aliased node,
 * but validation copies every path through it, so 10 KB of aliases nested three deep made tens of
 * millions of values (and a little more ran the process out of memory). Counted once per node,
 * each node's expanded size kept; a node that contains itself (`&a [*a]`) is left to validation,
 * which refuses it.
 */
function refuseExpansion(value: unknown, file: string | undefined): void {
  const sizes = new WeakMap<object, number>();
  const size = (node: unknown): number => {
    if (node === null || typeof node !== 'object') return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    sizes.set(node, 1); // while counting it: a node inside itself counts once
    let total = 1;
    for (const child of Object.values(node)) {
      total += size(child);
      if (total > MAX_EXPANDED_VALUES) break;
    }
    sizes.set(node, total);
    return total;
  };
  if (size(value) > MAX_EXPANDED_VALUES) {
    throw new ConfigError(
      '',
      `the file expands to more than ${MAX_EXPANDED_VALUES} values through its aliases (*name); write the values out, or share fewer`,
      { file },
    );
  }
}

/**
 * Refuses a mapping key `__proto__`: js-yaml keeps it as a key, but copied into an object by
 * assignment (as zod's records do) it sets the object's prototype instead, and the key vanishes
 * without an error: `labels: {__proto__: admins}` would match every account.
 */
function refuseReservedKeys(value: unknown, lines: LineIndex, file: string | undefined): void {
  const seen = new WeakSet<object>();
  const walk = (node: unknown, path: PropertyKey[]): void => {
    if (node === null || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    if (Object.prototype.hasOwnProperty.call(node, '__proto__')) {
      throw new ConfigError(
        formatPath([...path, '__proto__']),
        'a key JavaScript reserves; it cannot be a name here',
        { line: lines.get(node)?.get('__proto__'), file },
      );
    }
    const list = Array.isArray(node);
    for (const [key, child] of Object.entries(node)) walk(child, [...path, list ? Number(key) : key]);
  };
  walk(value, []);
}

/**
 * The key given twice whose second time is on `line` (1-based), with its YAML path, found by
 * parsing again the way Go's yaml.v2 (docker_auth) reads such a file: the last value wins.
 */
function duplicateKey(
  text: string,
  line: number,
  lastWins: string | null,
): { path: string; message: string } | undefined {
  /** Per mapping, its keys with their lines and how each was written, in order, duplicates included. */
  const keyLines = new WeakMap<object, [string, number, Child][]>();
  let value: unknown;
  try {
    value = loadNodes(text, { json: true }, (result, children) => {
      if (Array.isArray(result)) return;
      const pairs: [string, number, Child][] = [];
      for (let i = 0; i < children.length; i += 2)
        pairs.push([String(children[i]!.result), children[i]!.line, children[i]!]);
      keyLines.set(result, pairs);
    });
  } catch {
    return undefined;
  }
  // Aliases may make the value a graph, even a cycle (`&a [*a]`): each node is visited once.
  const seen = new Set<object>();
  const find = (node: unknown, path: (string | number)[]): { path: string; message: string } | undefined => {
    if (node === null || typeof node !== 'object' || seen.has(node)) return undefined;
    seen.add(node);
    const pairs = keyLines.get(node) ?? [];
    // The second time of a key on this line (both may share it in flow style: `{a: 1, a: 2}`).
    for (let i = 1; i < pairs.length; i++) {
      const [key, at] = pairs[i]!;
      if (at !== line) continue;
      const first = pairs.slice(0, i).find(([k]) => k === key);
      // A number written otherwise than JavaScript spells it (`1.50` is 1.5): docker_auth (yaml.v2)
      // reads its text, a name other than the key it collides with here.
      const respelled = (pair: (typeof pairs)[number]) =>
        (typeof pair[2].result === 'number' || typeof pair[2].result === 'boolean') &&
        pair[2].text !== undefined &&
        pair[2].text !== key;
      const number = first && [pairs[i]!, first].find(respelled);
      if (first && number) {
        const other = number === first ? pairs[i]! : first;
        return {
          path: formatPath([...path, key]),
          message: `${number[2].text!} on line ${number[1]} reads as the ${typeof number[2].result} ${key}, the key ${JSON.stringify(key)} on line ${other[1]} again (docker_auth reads them as two names); quote it (${JSON.stringify(number[2].text)}) to keep both`,
        };
      }
      if (first) {
        return {
          path: formatPath([...path, key]),
          message: `given twice (lines ${first[1]} and ${line}); keep one${lastWins ? ` (${lastWins} used the last)` : ''}`,
        };
      }
    }
    for (const [key, child] of Object.entries(node)) {
      // A number or boolean key by its text as written, as the loaded config names it.
      const written = pairs.find(
        ([k, , c]) => k === key && (typeof c.result === 'number' || typeof c.result === 'boolean'),
      )?.[2].text;
      const found = find(child, [...path, Array.isArray(node) ? Number(key) : (written ?? key)]);
      if (found) return found;
    }
    return undefined;
  };
  return find(value, []);
}

/** The keys of the mapping at `path` that YAML read as something other than a string. */
export function nonStringKeysAt(
  parsed: ParsedYaml,
  path: readonly PropertyKey[],
): ReadonlyMap<string, NonStringKey> {
  let node: unknown = parsed.value;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return new Map();
    node = (node as Record<string | number, unknown>)[typeof key === 'number' ? key : String(key)];
  }
  return (node !== null && typeof node === 'object' && parsed.nonStringKeys.get(node)) || new Map();
}

/**
 * The text written for the value at `path` when YAML read it as a number, a boolean or null
 * (`0x1F` for 31); undefined for any other value.
 */
export function scalarTextAt(parsed: ParsedYaml, path: readonly PropertyKey[]): string | undefined {
  let node: unknown = parsed.value;
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[typeof key === 'number' ? key : String(key)];
  }
  const last = path.at(-1);
  if (node === null || typeof node !== 'object' || last === undefined) return undefined;
  return parsed.scalarText.get(node)?.get(typeof last === 'number' ? last : String(last));
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
