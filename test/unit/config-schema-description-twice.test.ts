/**
 * docs/configuration.md "Editor support": editors show each key's description, "the comment above
 * it in config.example.yml". token.refresh.revoke_before is written in the example as
 * `revoke_before: {}` followed by the same key commented out with an example value
 * (`# revoke_before:` / `#   alice: '…'`); keyComments takes the commented key for a sibling "with
 * no comment of its own" that shares the block above, and describe() appends the block again: the
 * published schema's hover text for revoke_before is its whole paragraph twice. Found by a review.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';
import { configJsonSchema } from '../../src/config/json-schema.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** Every description in the schema, by its place in it. */
function descriptions(node: unknown, path = ''): [string, string][] {
  if (node === null || typeof node !== 'object') return [];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === 'description' && typeof v === 'string') out.push([path, v]);
    else out.push(...descriptions(v, `${path}/${k}`));
  }
  return out;
}

/** The sentences a description holds more than once. */
function repeated(text: string): string[] {
  const sentences = text.split(/(?<=\.)\s+/).filter((s) => s.length > 20);
  return [...new Set(sentences.filter((s, i) => sentences.indexOf(s) !== i))];
}

test.each([
  ['generated', () => configJsonSchema()],
  [
    'shipped schema/config.schema.json',
    () => JSON.parse(readFileSync(join(ROOT, 'schema/config.schema.json'), 'utf8')),
  ],
])('no key of the %s schema has its description twice', (_what, schema) => {
  const twice = descriptions(schema())
    .map(([path, text]) => [path, repeated(text)] as const)
    .filter(([, r]) => r.length > 0)
    .map(([path]) => path);
  expect(twice).toEqual([]);
});
