/**
 * Found by a review of 8572d05 ("Redo YAML merges under the keys' written spelling"), trying large
 * configs with merges.
 *
 * js-yaml 4.3 (package.json: ^4.3.2) counts merge work over the whole document and stops at its
 * default `maxTotalMergeKeys` of 10,000 (one per merge, one per key it copies). parseYaml passes
 * no such option, so an ACL of 2,600 rules written `- <<: *base` + `match: {account: ...}` (a base
 * of three keys: 4 per rule) is refused as "YAML syntax error: merge keys exceeded
 * maxTotalMergeKeys (10000)": no syntax error, nothing to say what to do, and docker_auth
 * (yaml.v2, no such limit) reads it. regauth's own bound on aliases is refuseExpansion's
 * MAX_EXPANDED_VALUES, a million values ("a 10,000-rule ACL is 70,000"): this file expands to about
 * 20,000. (The merges are redone by readMapping anyway, at the same cost.)
 */
import { expect, test } from 'vitest';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-review3-merge-limit-');

test('an ACL of 2,600 rules each merging a base rule loads, as docker_auth reads it', () => {
  let yaml = `acl:\n  - &base\n    match: {account: base}\n    actions: [pull]\n    comment: shared\n`;
  for (let i = 0; i < 2600; i++) yaml += `  - <<: *base\n    match: {account: "user${i}"}\n`;
  const config = configs.load(yaml);
  expect(config.acl.rules).toHaveLength(2601);
  expect(config.acl.rules[2600]).toMatchObject({ match: { account: 'user2599' }, actions: ['pull'] });
});
