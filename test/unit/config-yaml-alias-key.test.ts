/**
 * Found by a review of 8323c7c (an alias to its holder named at its own path).
 *
 * src/config/yaml.ts loadNodes takes any mapping or list not seen before whose text starts, after
 * its properties and comments (ALIAS_TEXT), with `*` for an alias to a node that holds it. A block
 * mapping whose FIRST KEY is an alias (valid YAML: js-yaml and yaml.v2 read `*admin : {...}` as
 * the key `alice`) has text starting with `*` too, so the config is refused with "an alias to a
 * mapping that holds it: its value would be itself, half read" at the mapping's path, though no
 * alias there names a mapping at all. A comment before that first key (8323c7c's new
 * ALIAS_TEXT reads comments) is refused the same way. The same users written as a flow mapping
 * (`{*admin : {...}}`), or with the alias key second, load.
 *
 * Suggested fix: decide from what the alias names (the anchor's node is still open: the anchor
 * name is in an open frame), not from the text's first character; or require the text after
 * the `*name` to end the node (no ` :` following it).
 */
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('config-alias-key-');
const HASH = '$2b$04$abcdefghijklmnopqrstuu0ZJ8H0hXb9fWwQ2e8yZ1lqFSFAb9T2u';

function config(users: string): string {
  return `token:
  issuer: x
  key: ${configs.keyPath}
  certificate: ${configs.certPath}
acl:
  - match: {account: &admin alice}
    actions: [push, pull]
users:
${users}`;
}

function load(users: string): string[] {
  const loaded = loadConfigText(config(users), { file: join(configs.dir, 'config.yml') });
  return [...(loaded.users?.keys() ?? [])];
}

test('precondition: the same alias key as a flow mapping, or not first, loads', () => {
  expect(load(`  {*admin : {password: "${HASH}"}}\n`)).toContain('alice');
  expect(load(`  bob: {password: "${HASH}"}\n  *admin : {password: "${HASH}"}\n`)).toContain('alice');
});

test('a block mapping whose first key is an alias (to a string) loads', () => {
  expect(load(`  *admin : {password: "${HASH}"}\n  bob: {password: "${HASH}"}\n`)).toContain('alice');
});

test('with a comment before that first alias key, it loads too', () => {
  expect(load(`  # the administrator\n  *admin : {password: "${HASH}"}\n`)).toContain('alice');
});
