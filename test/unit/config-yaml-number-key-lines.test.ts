/**
 * Found by a review of e408bed (numeric user names read as written) with c3cdd3c (users/users_file overlap).
 *
 * A user key written as a number JavaScript spells otherwise (`0755`, `1.50`, `0x1F`) now becomes
 * the account "0755", and errors name it `users["0755"]`. But the line index is keyed by
 * js-yaml's key ("755"), so lineOf() stops at `users:` and every error about such an account
 * names the line of `users:` instead of the account's own line (c3cdd3c's check promises "each by
 * its line"). Errors zod raises under the account (labels) still name the path `users["755"]`,
 * the spelling the commit set out to stop showing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { hash } from '../helpers/fixtures.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-number-line-');
// configs.head is 4 lines: `users:` is line 5, the first account line 6.
beforeAll(() => writeFileSync(join(configs.dir, 'htpasswd'), `0755:${hash('pw')}\n`));
const errorsOf = (yaml: string) => configs.errors(yaml, { lines: true });

test('an account 0755 in users: and users_file is named by its own line, not the line of users:', () => {
  const errors = errorsOf(`users:\n  0755: {}\nusers_file: htpasswd\n`);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/^line 6: users\["0755"\]: also in users_file/);
});

test('a bad password of user 0755 is named by its own line', () => {
  const errors = errorsOf(`users:\n  0755: {password: not-a-hash}\n`);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/^line 6: users\["0755"\]\.password: must be a bcrypt hash/);
});

test('an entry 0755 with no value is named by its own line', () => {
  const errors = errorsOf(`users:\n  bob: {}\n  0755:\n`);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/^line 7: users\["0755"\]: has no value/);
});

test('a bad label of user 0755 is named users["0755"], as written, not users["755"]', () => {
  const errors = errorsOf(`users:\n  0755: {labels: {group: [{a: 1}]}}\n`);
  expect(errors).toEqual(['line 6: users["0755"].labels.group: must be a string or a list of strings']);
});
