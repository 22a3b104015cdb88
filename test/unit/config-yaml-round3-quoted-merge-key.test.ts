/**
 * Found by a review of 8572d05 ("Redo YAML merges under the keys' written spelling").
 *
 * readMapping decides whether a mapping's `<<` children are merges for the whole mapping at once:
 * `const merges = !Object.hasOwn(mapping, '<<')` ("a quoted '<<' is a key like any other"). But a
 * mapping can hold both: a quoted `"<<"` key (a plain string key to js-yaml and to docker_auth's
 * yaml.v2, whose isMerge wants a plain scalar or a !!merge tag) and a plain `<<:` merge beside it,
 * or a plain `<<:` merge whose source itself has a `"<<"` key (js-yaml copies it in). Then every
 * plain `<<:` of the mapping is read as the key "<<", with the value js-yaml stored under "<<":
 *
 * - `{"<<": q, <<: {k: v}}` is refused as `["<<"]: given twice`, a key written once;
 * - `{<<: *a}` where `a` holds `"<<"` and other keys keeps "<<" and silently drops the others
 *   (below: the user alice merged in vanishes from users:).
 *
 * Before 8572d05 both loaded as js-yaml (and yaml.v2) read them.
 */
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { parseYaml } from '../../src/config/yaml.js';
import { hash } from '../helpers/fixtures.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-review3-quoted-merge-');

test('a quoted "<<" key beside a plain <<: merge is two things, not one key given twice', () => {
  expect(parseYaml(`c: {'<<': q, <<: {k: v}, y: 1}\n`).value).toEqual({ c: { '<<': 'q', k: 'v', y: 1 } });
});

test('merging a mapping that has a "<<" key keeps its other keys', () => {
  expect(parseYaml(`a: &a {'<<': x, k: v}\nc: {<<: *a, y: 1}\n`).value).toEqual({
    a: { '<<': 'x', k: 'v' },
    c: { '<<': 'x', k: 'v', y: 1 },
  });
});

test('a user merged in beside a user named "<<" is not silently dropped', () => {
  const config = loadConfigText(
    `${configs.head}users:\n  <<: {"<<": {password: "${hash('a')}"}, alice: {password: "${hash('b')}"}}\n`,
    { file: join(configs.dir, 'config.yml') },
  );
  expect(new Set(config.users!.keys())).toEqual(new Set(['<<', 'alice']));
});
