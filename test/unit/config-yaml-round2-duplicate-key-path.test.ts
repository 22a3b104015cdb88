/**
 * Found by a review of 221c2d0 ("Respell every number or boolean key as written, merged keys too").
 *
 * The commit's point: errors about user 0755 named zod's users["755"] paths; every key is now its
 * written text. But a key given twice is reported by duplicateKey, which parses the file again
 * without the respelling and builds the path from js-yaml's keys: a duplicate inside user 0755
 * (docker_auth's own LDAP example repeats a key; the loader tells the operator which one) is
 * reported under users["755"], a user the file does not have (and another user's name, if "755"
 * is one too).
 */
import { expect, test } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { parseYaml } from '../../src/config/yaml.js';

const pathOf = (yaml: string): string | undefined => {
  try {
    parseYaml(yaml, 'config.yml');
    return undefined;
  } catch (err) {
    return err instanceof ConfigError ? err.path : String(err);
  }
};

test('a key given twice inside user 0755 is reported under users["0755"]', () => {
  expect(pathOf('users:\n  0755:\n    password: a\n    password: b\n')).toBe('users["0755"].password');
});

test('a key given twice inside user 1.50 is reported under users["1.50"]', () => {
  expect(pathOf('users:\n  1.50:\n    labels: {team: [a]}\n    labels: {team: [b]}\n')).toBe(
    'users["1.50"].labels',
  );
});
