/**
 * Found by a review of e408bed ("Read numeric user names and label values as written, as docker_auth").
 *
 * docker_auth decodes `users:` (map[string]*Requirements) and labels (map[string][]string) with
 * gopkg.in/yaml.v2, whose decoder gives a Go string the text of any non-null scalar as written
 * (`out.SetString(n.value)`), map keys included, keys brought in by a merge key (`<<:`) included.
 * regauth's fix reads the text only for keys written directly in `users:` (nonStringKeys of that
 * one mapping) and for label *values*; elsewhere js-yaml's number still becomes JavaScript's
 * spelling, silently:
 *
 * - a user merged in with `<<:` (docs/configuration.md: "merge keys work as in docker_auth")
 *   becomes "644" for `0644:`: user 0644 cannot log in, and an account "644" that nobody wrote
 *   takes its password (or, for `{}`, any password);
 * - a label *name* written as a number (`0100: [x]`) becomes "100", so an ACL rule on the label
 *   "0100" (docker_auth's name for it) never matches.
 */
import { expect, test } from 'vitest';
import { hash } from '../helpers/fixtures.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-number-keys-');

test('a numeric user merged in with <<: is the user as written (0644), as docker_auth reads it', () => {
  const config = configs.load(
    `users:\n  alice: {password: "${hash('a')}"}\n  <<: {0644: {password: "${hash('b')}"}}\n`,
  );
  expect(new Set(config.users!.keys())).toEqual(new Set(['alice', '0644']));
});

test('a label name written as a number is its text as written (0100), as docker_auth reads it', () => {
  const config = configs.load(`users:\n  alice: {password: "${hash('a')}", labels: {0100: [x]}}\n`);
  expect(config.users!.get('alice')!.labels).toEqual({ '0100': ['x'] });
});
