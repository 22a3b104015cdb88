/**
 * Found by a review of the static `users:` backend (src/authn/users-config.ts) against docker_auth.
 *
 * docs/configuration.md: "a docker_auth config using `server`, `token`, `users`, `acl`, … runs
 * unchanged". The only YAML-reading differences it discloses are `yes`/`no`/`on`/`off` and a
 * leading zero in a number *value*.
 *
 * docker_auth reads `users:` into `map[string]*Requirements` and labels into
 * `map[string][]string` with gopkg.in/yaml.v2 (auth_server/go.mod), whose decoder sets any
 * non-null scalar decoded into a Go string to its text as written (`out.SetString(n.value)`):
 * a user key `1001:` is the user "1001", `0755:` is "0755", `1.50:` is "1.50", and a label list
 * `uid: [1001]` is ["1001"]. regauth (js-yaml, then zod) turns those into JS numbers first:
 *
 * - a numeric user name is refused, and the error names a path that is not in the file and tells
 *   the operator to quote a *different* name (`0755` → `users["755"]`, quote it ("755")): taking
 *   the advice renames the account, so user 0755 can no longer log in and ACL rules on
 *   `account: "0755"` stop matching;
 * - `"1.5"` and `1.50` (two users for docker_auth) are reported as one key "given twice", with
 *   the false note "docker_auth used the last";
 * - a label list of numbers is refused ("must be a string or a list of strings"), where
 *   docker_auth reads the numbers' text (ext_auth `args` already get this right via scalarTextAt).
 */
import { expect, test } from 'vitest';
import { hash } from '../helpers/fixtures.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-users-scalars-');

test('a numeric user name loads as its text, as docker_auth (yaml.v2) reads it', () => {
  const yaml = `users:\n  1001:\n    password: "${hash('pw')}"\n`;
  expect(configs.errors(yaml)).toEqual([]);
  const config = configs.load(yaml);
  expect([...config.users!.keys()]).toEqual(['1001']);
});

test('user keys written as other numbers load as their text: 0755, 1.50, 0x1F, 1e3', () => {
  const config = configs.load(
    `users:\n  0755: {password: "${hash('a')}"}\n  1.50: {}\n  0x1F: {}\n  1e3: {labels: {uid: [1000]}}\n`,
  );
  expect(new Set(config.users!.keys())).toEqual(new Set(['0755', '1.50', '0x1F', '1e3']));
  expect(config.users!.get('1e3')!.labels).toEqual({ uid: ['1000'] });
});

test('a number key and a quoted key of the same text are one user given twice', () => {
  expect(configs.errors(`users:\n  "0755": {}\n  0755: {}\n`)).toEqual([
    'users["0755"]: given twice (lines 6 and 7); keep one (docker_auth used the last)',
  ]);
});

test('~ and null keys are refused, named as written; true and False are names', () => {
  expect(configs.errors(`users:\n  ~: {}\n  bob: {}\n`)).toEqual([
    'users.null: user name ~ is no value to YAML (docker_auth read it as the anonymous account ""): write "" for that account, or quote it ("~") for a user of that name',
  ]);
  expect(new Set(configs.load(`users:\n  true: {}\n  False: {}\n`).users!.keys())).toEqual(
    new Set(['true', 'False']),
  );
});

test('"1.5" and 1.50, two users for docker_auth: the error says YAML made them one key, and how to keep both', () => {
  const errors = configs.errors(
    `users:\n  "1.5": {password: "${hash('a')}"}\n  1.50: {password: "${hash('b')}"}\n`,
  );
  expect(errors).toEqual([
    'users["1.5"]: 1.50 on line 7 reads as the number 1.5, the key "1.5" on line 6 again (docker_auth reads them as two names); quote it ("1.50") to keep both',
  ]);
});

test('label values written as numbers load as their text, as docker_auth reads them', () => {
  const yaml = `users:\n  alice:\n    password: "${hash('pw')}"\n    labels: {uid: [1001], gid: [0100]}\n`;
  expect(configs.errors(yaml)).toEqual([]);
  const config = configs.load(yaml);
  expect(config.users!.get('alice')!.labels).toEqual({ uid: ['1001'], gid: ['0100'] });
});
