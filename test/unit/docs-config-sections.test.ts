import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

/**
 * Found by a review of the docs as a new operator reads them. docs/configuration.md says it tells "where each section is explained", in its "Sections" table.
 * The sections are the config's top-level keys (schema/config.schema.json, generated from the
 * loader's schema, and every one of them documented in config.example.yml). A row that lists a
 * section's keys, without "…", lists them all (a key with a row of its own, `token.refresh`, aside).
 */
const ROOT = resolve(import.meta.dirname, '../..');

interface Schema {
  readonly properties?: Record<string, Schema>;
  readonly anyOf?: readonly Schema[];
}

/** The keys an object schema declares (through `anyOf`, as zod writes an optional section). */
function keysOf(schema: Schema | undefined): string[] {
  if (!schema) return [];
  if (schema.properties) return Object.keys(schema.properties);
  return (schema.anyOf ?? []).flatMap(keysOf);
}

function propertyOf(schema: Schema | undefined, key: string): Schema | undefined {
  if (!schema) return undefined;
  if (schema.properties) return schema.properties[key];
  for (const alt of schema.anyOf ?? []) {
    const found = propertyOf(alt, key);
    if (found) return found;
  }
  return undefined;
}

const schema = JSON.parse(readFileSync(join(ROOT, 'schema/config.schema.json'), 'utf8')) as Schema;
const page = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
const table = page.slice(page.indexOf('## Sections'), page.indexOf('## Credential cache'));
const rows = new Map(
  [...table.matchAll(/^\| `([\w.]+)` +\| (.*?) +\| .*\|$/gm)].map((m) => [m[1]!, m[2]!] as const),
);

describe('docs/configuration.md "Sections" covers every section of the config', () => {
  test('the table was found', () => {
    expect(rows.size).toBeGreaterThan(10);
  });

  test('every top-level key of the config has a row', () => {
    const missing = keysOf(schema).filter((section) => !rows.has(section));
    expect(missing).toEqual([]);
  });

  test('a row that lists its section keys (without "…") lists all of them', () => {
    const incomplete: string[] = [];
    for (const [section, what] of rows) {
      const sectionSchema = section
        .split('.')
        .reduce<Schema | undefined>((s, key) => propertyOf(s, key), schema);
      const keys = keysOf(sectionSchema);
      const named = new Set([...what.matchAll(/`([^`]+)`/g)].flatMap((m) => m[1]!.split('/')));
      if (what.includes('…') || !keys.some((k) => named.has(k))) continue;
      for (const key of keys) {
        if (!named.has(key) && !rows.has(`${section}.${key}`)) incomplete.push(`${section}.${key}`);
      }
    }
    expect(incomplete).toEqual([]);
  });
});
