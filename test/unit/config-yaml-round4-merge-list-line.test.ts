/**
 * Found by a review of 8032816: with `<<: [*a, *b]` both bringing a `match`, the refusal names path
 * acl[2].match but the line of acl[0]'s match (where *a was written), and says "write every key
 * out here" of a match acl[2] does not write. The mapping at fault is acl[2]; its `<<:` line is
 * the one to name (editing acl[0]'s match, as told, changes acl[0]).
 */
import { expect, test } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { parseYaml } from '../../src/config/yaml.js';

test('a merge list whose mappings both bring a match is refused at the <<: line of the rule', () => {
  const yaml =
    `acl:\n` + // 1
    `  - &a {match: {account: a, name: "t/*"}, actions: [pull]}\n` + // 2
    `  - &b {match: {type: repository}, actions: [push]}\n` + // 3
    `  - <<: [*a, *b]\n`; // 4
  let err: unknown;
  try {
    parseYaml(yaml, 'config.yml');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).line).toBe(4);
});
