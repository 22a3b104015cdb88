/**
 * Found by a review of 221c2d0 ("Respell every number or boolean key as written, merged keys too").
 *
 * respellNumberKeys runs after js-yaml has built the mapping, merge included, and js-yaml merged
 * and overrode by JavaScript's spelling of the keys. So:
 *
 * 1. Overriding a merged key (the point of `<<:`) with the same key written again is refused as
 *    "given twice (lines 5 and 5)" when the key is one that is respelled (`0755`, `1.50`, `True`):
 *    the merged "0755" is already there when the local 0755 (js-yaml's "755") is respelled.
 *    docker_auth's yaml.v2 reads both as "0755" and loads the file (the override wins, or the
 *    merge, by order; neither is an error), and so does regauth for any key that is not a number.
 * 2. A merged key spelled as JavaScript spells a number (`1:`, `755:`) is silently lost when the
 *    mapping also holds a key with the same value written otherwise (`1.0:`, `0755:`): js-yaml's
 *    1.0 overrides the merged "1", and the respelling then moves that value to "1.0" and deletes
 *    "1". yaml.v2 keeps both names: {"1": a, "1.0": b}.
 */
import { expect, test } from 'vitest';
import { parseYaml } from '../../src/config/yaml.js';
import { hash } from '../helpers/fixtures.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-review2-merge-');

test('a merged key overridden by the same key written again loads (parser)', () => {
  const parsed = parseYaml(`b: &b\n  0755: {x: 1}\n  other: {x: 1}\nm:\n  <<: *b\n  0755: {x: 2}\n`);
  expect(parsed.value).toEqual({
    b: { '0755': { x: 1 }, other: { x: 1 } },
    m: { '0755': { x: 2 }, other: { x: 1 } },
  });
});

test('a user 0755 merged from shared defaults and overridden in users: loads, as in docker_auth', () => {
  const config = configs.load(
    `users:\n  <<: &defaults\n    0755: {password: "${hash('old')}"}\n    alice: {password: "${hash('a')}"}\n  0755: {password: "${hash('new')}"}\n`,
  );
  expect(new Set(config.users!.keys())).toEqual(new Set(['alice', '0755']));
});

test('a merged key "1" is kept beside a key 1.0 of the mapping, as yaml.v2 keeps both names', () => {
  const parsed = parseYaml(`b: &b\n  1: a\nm:\n  <<: *b\n  1.0: b\n`);
  expect(parsed.value).toEqual({ b: { '1': 'a' }, m: { '1': 'a', '1.0': 'b' } });
});

test('user 755 merged in is not lost to a user 0755 written beside the merge', () => {
  const config = configs.load(
    `users:\n  <<: {755: {password: "${hash('x')}"}}\n  0755: {password: "${hash('y')}"}\n`,
  );
  expect(new Set(config.users!.keys())).toEqual(new Set(['755', '0755']));
});
