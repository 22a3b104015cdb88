/**
 * Found by a review of 221c2d0 ("Respell every number or boolean key as written, merged keys too").
 *
 * Booleans are now respelled as written, as yaml.v2 reads them: `true:` and `True:` are two
 * accounts in docker_auth ("true" and "True"). js-yaml reads both as the key "true" and stops at
 * the second as a duplicate; duplicateKey explains a respelled key only when it is a number
 * (`typeof ... === 'number'`), so for booleans it says "given twice; keep one (docker_auth used
 * the last)": wrong about docker_auth, and the operator who follows it deletes one of two
 * accounts. For numbers (`755:` and `0755:`) the same situation is explained correctly
 * ("docker_auth reads them as two names; quote it").
 */
import { expect, test } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { parseYaml } from '../../src/config/yaml.js';

const messageOf = (yaml: string): string => {
  try {
    parseYaml(yaml, 'config.yml');
    return 'loaded';
  } catch (err) {
    return err instanceof ConfigError ? err.message : String(err);
  }
};

test('users true: and True: are told to be two names to docker_auth, not one given twice', () => {
  const message = messageOf('users:\n  true: {}\n  True: {}\n');
  expect(message).not.toMatch(/docker_auth used the last/);
  expect(message).toMatch(/two names/);
});

test('users "true": and TRUE: likewise', () => {
  const message = messageOf('users:\n  "true": {}\n  TRUE: {}\n');
  expect(message).not.toMatch(/docker_auth used the last/);
  expect(message).toMatch(/two names/);
});
