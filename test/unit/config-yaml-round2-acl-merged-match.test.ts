/**
 * Found by a review of cda41ef ("Read ACL match fields written as numbers or booleans as written").
 *
 * The written text of a match field is looked up by the rule's own `match` mapping
 * (scalarTextAt(['acl', i, 'match', field])). A field a merge key brings into that mapping
 * (`match: {<<: *ci, name: ...}`, docs/configuration.md: merge keys work as in docker_auth) was
 * written in another mapping, so no text is found and the fallback String(755) is used: the rule
 * written for account 0755 matches the account "755" instead, silently. docker_auth's yaml.v2
 * gives the merged `account: 0755` its text, "0755". The same root cause (scalarText is recorded
 * per mapping written, and a merge copies values into another) makes a label value merged into a
 * user's labels (`labels: {<<: {group: 0100}}`) the label "100" instead of "0100".
 */
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { hash } from '../helpers/fixtures.js';
import { aclRequest, useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-review2-acl-merge-');

test('a match field merged in with <<: is its text as written (0755), not 755', () => {
  const config = loadConfigText(
    `${configs.head}users:\n  0755: {password: "${hash('a')}"}\n` +
      `acl:\n  - match: &ci {account: 0755, name: "ci/*"}\n    actions: [pull]\n` +
      `  - match: {<<: *ci, name: "deploy/*"}\n    actions: [pull, push]\n`,
    { file: join(configs.dir, 'config.yml') },
  );
  // The first rule, written in place, is 0755's.
  expect(config.acl.authorize(aclRequest('0755', 'ci/app')).granted).toEqual(['pull']);
  // The second, merged from the first: 0755's too, as docker_auth reads it; not 755's.
  expect(config.acl.authorize(aclRequest('755', 'deploy/app')).granted).toEqual([]);
  expect(config.acl.authorize(aclRequest('0755', 'deploy/app')).granted).toEqual(['pull', 'push']);
});

test("a label value merged into a user's labels with <<: is its text as written (0100), not 100", () => {
  const config = loadConfigText(
    `${configs.head}users:\n  alice: {password: "${hash('a')}", labels: {<<: {group: 0100}, team: [x]}}\n`,
    { file: join(configs.dir, 'config.yml') },
  );
  expect(config.users!.get('alice')!.labels).toEqual({ group: ['0100'], team: ['x'] });
});
