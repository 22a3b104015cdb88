/**
 * Commit 79adb4b refuses an alias inside the node its anchor names "at the alias's path and line"
 * (src/config/yaml.ts, parseYaml's `enclosing` callback). The line is right, the path is not in
 * three ordinary spellings:
 *
 * - a comment between the key and an alias on the next line (`refresh: # same` NL `*t`): js-yaml
 *   opens a second frame around the alias, loadNodes reports the alias from that frame with the
 *   anchored mapping as its holder and the alias as child 0, and `children[at - 1]` is undefined:
 *   the error reads `token.undefined`;
 * - a merge list (`labels: {<<: [*a]}`): the holder is the list `<<:` holds, which is not in the
 *   loaded tree, so pathTo finds nothing: the error reads `["0"]`, no section, no key;
 * - an alias in a list (`l: &l [1, *l]`): the index is made a string, `["1"]` where every other
 *   error writes `[1]` (`acl[0]`).
 *
 * The refusal stands in each; the path points nowhere. Found by a review.
 */
import { expect, test } from 'vitest';
import { join } from 'node:path';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('config-alias-path-');
const HASH = '$2b$04$abcdefghijklmnopqrstuu0ZJ8H0hXb9fWwQ2e8yZ1lqFSFAb9T2u';

function paths(text: string): string[] {
  try {
    loadConfigText(text, { file: join(configs.dir, 'config.yml') });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw err;
    return err.errors.map((e) => e.path);
  }
}

test('a comment before the alias: the error names the key that holds it', () => {
  const text = `token: &t
  issuer: x
  key: ${configs.keyPath}
  certificate: ${configs.certPath}
  refresh: # the same settings
    *t
users: {}
acl: []
`;
  expect(paths(text)).toEqual(['token.refresh']);
});

test('an alias in a merge list: the error names the mapping that merges', () => {
  const text = `${configs.head}users:
  alice: &a
    password: "${HASH}"
    labels: {<<: [*a]}
acl: []
`;
  const [path] = paths(text);
  expect(path).toMatch(/^users\.alice\.labels/);
});

test('an alias in a list: the index is written as every other path writes one', () => {
  const text = `${configs.head}users: {}
acl:
  - &l [1, *l]
`;
  const [path] = paths(text);
  expect(path).toBe('acl[0][1]');
});
