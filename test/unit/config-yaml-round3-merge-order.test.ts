/**
 * Found by a review of 8572d05 ("Redo YAML merges under the keys' written spelling"): readMapping
 * makes "keys written in the mapping win over merged ones, and earlier merged mappings over later
 * ones", wherever they stand. docs/configuration.md says merge keys "work as in docker_auth".
 *
 * docker_auth's gopkg.in/yaml.v2 applies a mapping's entries in the order written
 * (decode.go mapping / mappingStruct: `if isMerge(...) { d.merge(...); continue }`, then each
 * key set over whatever is there; go-yaml/yaml#81 "Questionable mapping node merge behavior").
 * So in docker_auth:
 *
 *   - a key written BEFORE `<<:` is overridden by the merge:
 *       - match: {account: root}
 *         <<: *admins            # docker_auth: this rule is admins' (account admin)
 *     regauth keeps account root: root is granted "*", which docker_auth never granted it;
 *   - `<<:` given twice: the later one wins (regauth: the earlier), and regauth, which refuses
 *     any other key given twice, loads it silently.
 *
 * Reading as docker_auth did, or refusing such a mapping naming the lines, would both do.
 */
import { expect, test } from 'vitest';
import { aclRequest, useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-review3-merge-order-');

const granted = (yaml: string, account: string, name: string): unknown =>
  configs.outcome(yaml, (c) => c.acl.authorize(aclRequest(account, name)).granted);

test('a key written before <<: is overridden by the merge, as docker_auth (yaml.v2) reads it', () => {
  const yaml =
    `acl:\n  - &admins\n    match: {account: admin}\n    actions: ["*"]\n` +
    `  - match: {account: root}\n    <<: *admins\n`;
  // docker_auth: both rules are admin's; root is granted nothing.
  expect([[], 'refused']).toContainEqual(granted(yaml, 'root', 'any/app'));
});

test('<<: given twice: the later merge wins, as docker_auth (yaml.v2) reads it', () => {
  // The anchors stand in rules for the account nobody (a mapping of account patterns, kept as labels).
  const yaml =
    `acl:\n  - match: {account: nobody, labels: &pullers {account: ci}}\n    actions: [pull]\n` +
    `  - match: {account: nobody, labels: &pushers {account: deploy}}\n    actions: [pull]\n` +
    `  - match:\n      <<: *pushers\n      <<: *pullers\n      name: "shared/*"\n    actions: [pull, push]\n`;
  // docker_auth: the third rule is {account: ci, name: shared/*} (the later merge wins): ci may
  // pull and push shared/app. regauth: the third rule is deploy's, and ci gets nothing.
  expect([['pull', 'push'], 'refused']).toContainEqual(granted(yaml, 'ci', 'shared/app'));
});
