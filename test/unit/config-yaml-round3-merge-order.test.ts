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
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review3-merge-order-');
let head = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  head = `token:\n  issuer: x\n  key: ${keyPath}\n  certificate: ${certPath}\n`;
});
afterAll(() => tmp.cleanup());

const request = (account: string, name: string) => ({
  account,
  type: 'repository',
  name,
  service: 'registry',
  ip: null,
  labels: {},
  actions: ['pull', 'push'],
});

const granted = (yaml: string, account: string, name: string): unknown => {
  try {
    return loadConfigText(head + yaml, { file: join(tmp.dir, 'config.yml') }).acl.authorize(
      request(account, name),
    ).granted;
  } catch (err) {
    if (err instanceof ConfigErrors) return 'refused';
    throw err;
  }
};

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
