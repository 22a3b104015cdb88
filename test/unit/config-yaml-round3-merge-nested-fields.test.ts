/**
 * Found by a review of 8572d05 ("Redo YAML merges under the keys' written spelling"), which
 * redoes `<<:` "as YAML merges" (a written key replaces the merged one whole); and
 * docs/configuration.md: "merge keys work as in docker_auth (`- <<: *admins` followed by
 * `match: {account: root}` copies a rule and replaces its `match`)".
 *
 * docker_auth does not replace it. It decodes with gopkg.in/yaml.v2 straight into its structs,
 * applying a merge by decoding the merged mapping into the same struct, then each written key
 * into the field already there (decode.go mappingStruct / merge / prepare): a pointer field
 * already set is reused (`if out.IsNil() { New }; out = out.Elem()`) and a map field already made
 * is added to (`if out.IsNil() { MakeMap }`). ACLEntry.Match is a *MatchConditions and
 * Requirements.Labels a map, so the written `match:` / `labels:` is merged field by field into
 * the one the `<<:` brought in:
 *
 *   - &team {match: {account: alice, name: "team/*"}, actions: [pull, push]}
 *   - <<: *team
 *     match: {account: bob}
 *
 * is, to docker_auth, bob on team/* only. regauth reads match {account: bob}: bob may push to
 * every repository. A user's `labels:` written beside `<<: *base` likewise keeps the base's
 * labels in docker_auth and drops them in regauth.
 *
 * Either reading as docker_auth did or refusing (naming both lines) would do; silently granting
 * more than the file granted in docker_auth does not.
 */
import { expect, test } from 'vitest';
import { hash } from '../helpers/fixtures.js';
import { aclRequest, useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-review3-merge-nested-');

test('a match written beside <<: *rule keeps the merged rule’s other conditions, as docker_auth did', () => {
  const yaml =
    `acl:\n  - &team\n    match: {account: alice, name: "team/*"}\n    actions: [pull, push]\n` +
    `  - <<: *team\n    match: {account: bob}\n`;
  // docker_auth: the second rule is {account: bob, name: team/*}; bob gets nothing on other/app.
  expect([[], 'refused']).toContainEqual(
    configs.outcome(yaml, (c) => c.acl.authorize(aclRequest('bob', 'other/app')).granted),
  );
});

test('labels written beside <<: *base in a user keep the base’s labels, as docker_auth did', () => {
  const yaml =
    `users:\n  alice: &base\n    password: "${hash('a')}"\n    labels: {group: [dev]}\n` +
    `  bob:\n    <<: *base\n    labels: {team: [x]}\n`;
  expect([{ group: ['dev'], team: ['x'] }, 'refused']).toContainEqual(
    configs.outcome(yaml, (c) => c.users!.get('bob')!.labels),
  );
});
