import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { configSchema } from './schema.js';
import { EMPTY_MEANS_UNSET, NULL_KEPT, NULL_MEANS_UNSET } from './docker-auth.js';

/**
 * The config's JSON Schema (draft 2020-12), for editors (the YAML language server reads it from a
 * `# yaml-language-server: $schema=…` modeline). One source for each fact: the shapes, defaults
 * and enums come from the zod schema that the loader enforces, and each key's description from the
 * comment above that key in config.example.yml, which documents every key in place.
 * `regauth schema` prints it; the build writes it to schema/config.schema.json.
 */

/** The file whose comments describe every key, at the package root (it ships in the package). */
export const EXAMPLE_CONFIG = new URL('../../config.example.yml', import.meta.url);

/** A name, not an address: the schema travels with the package (schema/config.schema.json). */
export const SCHEMA_ID = 'urn:regauth:config';

type JsonSchema = {
  description?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  [key: string]: unknown;
};

/** A key path in the example: names of mapping keys, `[]` for "an item of this list". */
export type KeyPath = readonly string[];

/** `key: value` where the value is empty, one word, or starts like YAML (`{`, `[`, a quote): not a sentence. */
const YAML_LINE = /^(- )?[a-z0-9_'"][^\s:#]*:(\s*$|\s+[{['"]|\s+\S+\s*$)/;

const KEY = /^(- )?([A-Za-z_][A-Za-z0-9_]*|'[^']*'|"[^"]*"):(\s|$)/;

/**
 * The comment that describes each key of a YAML file, by key path: the comment block right above
 * the key, or the comment after its value on the same line (and the lines continuing that
 * comment in the same column). Keys that are commented out count as keys
 * (`# certificate: /certs/tls.pem`: an optional key shown with an example value), as long as
 * `isKey` knows the path; anything else that looks like `word: …` in a comment is prose. A blank
 * line or a value line ends a block; a key right below a sibling with no comment of its own
 * shares that sibling's (`# certificate:` / `# key:`, `headers_timeout:` / `request_timeout:`). Only this project's example is
 * read, written in this one style, so a line parser suffices (YAML libraries drop comments).
 */
export function keyComments(
  text: string,
  isKey: (path: string[]) => boolean = () => true,
): Map<string, string> {
  const out = new Map<string, string>();
  const stack: { indent: number; key: string }[] = [];
  let pending: string[] = [];
  /** The previous line's key: where a trailing comment continues, and whose block a sibling shares. */
  let last: { path: string; indent: number; trailingColumn?: number; shared?: string } | undefined;
  const describe = (path: string, text: string) => {
    const before = out.get(path);
    out.set(path, before ? `${before} ${text}` : text);
  };
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') {
      pending = [];
      last = undefined;
      continue;
    }
    const hash = /^(\s*)#( ?)(.*)$/.exec(raw);
    let indent: number;
    let body: string;
    if (hash) {
      const inner = /^(\s*)(.*)$/.exec(hash[3] ?? '')!;
      let candidate = inner[2] ?? '';
      // `   # more` under `key: value # text`: that comment goes on, in its own column.
      const hashColumn = (hash[1] ?? '').length;
      const innerColumn = raw.length - candidate.length;
      if (
        last?.trailingColumn !== undefined &&
        (hashColumn === last.trailingColumn ||
          (candidate.startsWith('#') && innerColumn === last.trailingColumn))
      ) {
        describe(last.path, candidate.replace(/^#\s*/, ''));
        continue;
      }
      // Inside a commented-out section, `#   # text` is a comment and `#   # key: value` a key
      // commented out twice.
      const nested = candidate.startsWith('#');
      if (nested) candidate = candidate.replace(/^#\s?/, '');
      indent = (hash[1] ?? '').length + (inner[1] ?? '').length;
      const key = KEY.exec(candidate);
      const path = key ? [...pathAt(stack, indent), ...(key[1] ? ['[]'] : []), key[2]!] : [];
      if (!key || !isKey(path)) {
        // Commented-out YAML that is not a key of the schema (`#     alice: '2026-…'`, a name in
        // a mapping; `#     # mail: {attribute: mail}`, an alternative): a value line, not prose.
        if (((inner[1] ?? '').length >= 2 || nested) && YAML_LINE.test(candidate)) {
          pending = [];
          last = undefined;
        } else {
          pending.push(candidate.trim());
          last = undefined;
        }
        continue;
      }
      body = candidate;
    } else {
      indent = raw.length - raw.trimStart().length;
      body = raw.trimStart();
    }
    const key = KEY.exec(body);
    if (!key) {
      pending = [];
      last = undefined;
      continue;
    }
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    if (key[1]) {
      // `- issuer:` opens a list item: the item's keys sit two columns further in.
      stack.push({ indent, key: '[]' });
      indent += 2;
    }
    stack.push({ indent, key: key[2]!.replace(/^['"]|['"]$/g, '') });
    const path = stack.map((e) => e.key).join('.');
    const block = pending.join(' ');
    if (block !== '') describe(path, block);
    // A sibling shares the block above; the same key again (`revoke_before: {}`, then an example
    // of it commented out) already has it.
    else if (last?.shared !== undefined && last.indent === indent && last.path !== path)
      describe(path, last.shared);
    const trailing = /(?:^|\s)#\s?(.*)$/.exec(body.slice(key[0].length));
    if (trailing && outsideQuotes(body.slice(key[0].length, key[0].length + trailing.index)))
      describe(path, (trailing[1] ?? '').trim());
    last = {
      path,
      indent,
      ...(trailing
        ? { trailingColumn: raw.length - body.length + body.indexOf('#', key[0].length + trailing.index) }
        : {}),
      ...(block !== ''
        ? { shared: block }
        : last?.indent === indent && last.shared
          ? { shared: last.shared }
          : {}),
    };
    pending = [];
  }
  return out;
}

/** True when text has no quote left open (so a `#` after it starts a comment). */
function outsideQuotes(text: string): boolean {
  return (text.match(/'/g) ?? []).length % 2 === 0 && (text.match(/"/g) ?? []).length % 2 === 0;
}

/** The key path of a key at `indent`, below the keys of `stack` that enclose it. */
function pathAt(stack: readonly { indent: number; key: string }[], indent: number): string[] {
  return stack.filter((e) => e.indent < indent).map((e) => e.key);
}

/** The schema node that holds the object's keys (unwrapping nullable and union wrappers). */
function objectNode(node: JsonSchema): JsonSchema | undefined {
  if (node.properties || node.additionalProperties !== undefined || node.items) return node;
  return node.anyOf?.find((n) => n.properties || n.items || typeof n.additionalProperties === 'object');
}

function nodeAt(root: JsonSchema, path: readonly string[]): JsonSchema | undefined {
  let node: JsonSchema | undefined = root;
  for (const key of path) {
    const holder: JsonSchema | undefined = node && objectNode(node);
    if (!holder) return undefined;
    if (key === '[]') node = holder.items;
    else if (holder.properties?.[key]) node = holder.properties[key];
    // A mapping of names (users: {admin: …}): the example's name stands for any name.
    else if (typeof holder.additionalProperties === 'object') node = holder.additionalProperties;
    else return undefined;
  }
  return node;
}

/** True when the last key of `path` is a name in a mapping of names (a user name, a label name). */
function viaName(root: JsonSchema, path: readonly string[]): boolean {
  const parent = nodeAt(root, path.slice(0, -1));
  const holder = parent && objectNode(parent);
  const last = path[path.length - 1]!;
  return (
    !!holder && last !== '[]' && !holder.properties?.[last] && typeof holder.additionalProperties === 'object'
  );
}

/** Every declared key of the schema, as paths (`server.addr`, `acl.[].match.account`). */
export function schemaKeyPaths(node: JsonSchema, prefix: string[] = []): string[][] {
  const holder = objectNode(node);
  if (!holder) return [];
  const paths: string[][] = [];
  for (const [key, child] of Object.entries(holder.properties ?? {})) {
    paths.push([...prefix, key], ...schemaKeyPaths(child, [...prefix, key]));
  }
  if (holder.items) paths.push(...schemaKeyPaths(holder.items, [...prefix, '[]']));
  if (typeof holder.additionalProperties === 'object')
    paths.push(...schemaKeyPaths(holder.additionalProperties, [...prefix, '*']));
  return paths;
}

/**
 * Lets the optional keys of the sections where docker_auth leaves keys empty be YAML null, and
 * those it reads as unset when empty be `""`, as the loader takes them (src/config/docker-auth.ts):
 * a docker_auth config that regauth loads must not be flagged by an editor. Required keys stay
 * required: the loader drops an empty one and then misses it.
 */
function allowUnset(root: JsonSchema): void {
  for (const section of NULL_MEANS_UNSET) {
    const node = nodeAt(root, [section]);
    const holder = node && objectNode(node);
    if (!holder?.properties) continue;
    const required = (holder['required'] as string[] | undefined) ?? [];
    for (const [key, child] of Object.entries(holder.properties)) {
      // A key whose null the loader keeps takes null, or not, as its own schema says.
      if (required.includes(key) || NULL_KEPT[section]?.includes(key)) continue;
      const { default: fallback, ...rest } = child;
      const unset: JsonSchema[] = [{ type: 'null' }];
      if (EMPTY_MEANS_UNSET[section]?.includes(key)) unset.push({ const: '' });
      holder.properties[key] = {
        anyOf: [rest, ...unset],
        ...(fallback !== undefined ? { default: fallback } : {}),
      };
    }
  }
}

/**
 * Keys whose default depends on the machine regauth runs on (so on the one that built the
 * schema): their description says what it is, and the schema names no figure.
 */
const MACHINE_DEFAULTS: readonly (readonly string[])[] = [['login_queue', 'max_pending']];

/**
 * Keys the loader reads as YAML null only to refuse them by name (`alice:` under `users:`, with no
 * value, is told to write `alice: {}`): for an editor they are simply not null.
 */
const NULL_REFUSED: readonly (readonly string[])[] = [['users', '*']];

function withoutNull(node: JsonSchema | undefined): void {
  if (!node?.anyOf) return;
  const rest = node.anyOf.filter((n) => n['type'] !== 'null');
  delete node.anyOf;
  if (rest.length === 1) Object.assign(node, rest[0]);
  else node.anyOf = rest;
}

/** Builds the JSON Schema; `exampleText` is config.example.yml's text (read from the package by default). */
export function configJsonSchema(exampleText = readFileSync(EXAMPLE_CONFIG, 'utf8')): JsonSchema {
  const generated = z.toJSONSchema(configSchema, {
    target: 'draft-2020-12',
    // The schema of what a user writes (before defaults and transforms apply).
    io: 'input',
    // Checks JSON Schema cannot express (a regex that must compile, a readable file) are the
    // loader's alone; docs/configuration.md "Editor support" lists them.
    unrepresentable: 'any',
    // zod leaves out the default of a value it transforms (every duration: `"15m"` is read as
    // seconds); the value it gives is one a user may write too.
    override: ({ zodSchema, jsonSchema }) => {
      const def = zodSchema._zod.def;
      if (def.type === 'default' && jsonSchema.default === undefined) jsonSchema.default = def.defaultValue;
    },
  }) as JsonSchema;
  allowUnset(generated);
  for (const path of MACHINE_DEFAULTS) delete nodeAt(generated, path)?.default;
  for (const path of NULL_REFUSED) withoutNull(nodeAt(generated, path));
  const known = (path: readonly string[]) => nodeAt(generated, path) !== undefined;
  for (const [path, text] of keyComments(exampleText, known)) {
    const keys = path.split('.');
    // `users: {admin: …}`: the comment above `admin` is about admin, not about every user.
    if (viaName(generated, keys)) continue;
    const node = nodeAt(generated, keys);
    if (node && node.description === undefined) node.description = text;
  }
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: SCHEMA_ID,
    title: 'regauth configuration',
    description:
      "The YAML config of regauth, a token authentication server for the Docker registry. Generated from regauth's own schema; `regauth validate` checks what this cannot (files, keys, regexes).",
    ...rest,
  };
}
