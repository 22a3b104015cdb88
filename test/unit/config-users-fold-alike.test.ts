/**
 * Found by a review of the lockout: it counts every spelling of a name as one account (`ALICE`
 * counts on alice, as a directory finds one entry for both), but static users are told apart
 * by their exact names, and nothing refused `alice` and `Alice` as two accounts. The owner of
 * `Alice` guessed alice's password from one address, and before the pair locked logged in as
 * `Alice` with their own password: that success cleared the pair's count (and exempted the
 * address from alice's account cap), for ever. docs/security.md promises at most `max_failures`
 * passwords of one account checked per client, whatever the spelling. Such accounts are now
 * refused at load, in `users:`, in `users_file` and across both.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { useConfigText } from '../helpers/config.js';
import { hash, randomPassword } from '../helpers/fixtures.js';

const config = useConfigText('regauth-users-fold-alike-');
const pw = () => `{password: "${hash(randomPassword())}"}`;

test('users: two accounts whose names fold alike are refused, by the later one’s line', () => {
  expect(config.errors(`users:\n  alice: ${pw()}\n  Alice: ${pw()}\nacl: []\n`, { lines: true })).toEqual([
    'line 7: users.Alice: this account folds like users.alice (case, width): the lockout counts both as one account, so a login to one would clear the failed logins of the other; keep one spelling',
  ]);
});

test('users_file, and users: with users_file: the same', () => {
  const file = join(config.dir, 'htpasswd');
  writeFileSync(file, `bob:${hash(randomPassword())}\nＢＯＢ:${hash(randomPassword())}\n`);
  expect(config.errors(`users_file: ${file}\nacl: []\n`)).toEqual([
    `users_file: "ＢＯＢ" in ${file} folds like ${file}: bob (case, width): the lockout counts both as one account, so a login to one would clear the failed logins of the other; keep one spelling`,
  ]);
  writeFileSync(file, `bob:${hash(randomPassword())}\n`);
  expect(config.errors(`users:\n  Bob: ${pw()}\nusers_file: ${file}\nacl: []\n`)).toEqual([
    `users_file: "bob" in ${file} folds like users.Bob (case, width): the lockout counts both as one account, so a login to one would clear the failed logins of the other; keep one spelling`,
  ]);
});

test('names that differ otherwise load', () => {
  expect(config.errors(`users:\n  alice: ${pw()}\n  alice2: ${pw()}\n  "": {}\nacl: []\n`)).toEqual([]);
});
