/**
 * Found by a review of e408bed. docs/configuration.md now says: "Where docker_auth takes text, a number is
 * read as written, as docker_auth did: a `users:` name (`1001:`, `0755:`) and a label value
 * (`uid: [1001]`), and `ext_auth`/`ext_authz` `args`." docker_auth's ACL match conditions take
 * text too (auth_server/authz/acl.go: `Account *string`, `Labels map[string]string`, read with
 * yaml.v2, which gives a string any scalar's text), so the rule that goes with the user this
 * commit makes loadable, `match: {account: 1001}` (or `labels: {uid: 1001}` for the label value it
 * makes loadable), runs in docker_auth and is refused by regauth ("must be a string"): a
 * docker_auth config with numeric account names still does not load unchanged.
 */
import { expect, test } from 'vitest';
import { configErrors } from '../helpers/config.js';
import { hash } from '../helpers/fixtures.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-acl-number-');

test('an ACL rule for the numeric user 1001 loads, as in docker_auth', () => {
  const yaml = `${configs.head}users:\n  1001: {password: "${hash('pw')}", labels: {uid: [1001]}}\nacl:\n  - match: {account: 1001}\n    actions: [pull]\n  - match: {labels: {uid: 1001}}\n    actions: [push]\n`;
  expect(configErrors(yaml, configs.dir)).toEqual([]);
});
