import { expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig, AuthzRequest } from '../../src/authz/types.js';

// Found by a review of the docker_auth drop-in promise (docs/acl.md "Differences from
// docker_auth", "Where regauth matches less than docker_auth").
//
// docker_auth matches each field on its own (auth_server/authz/acl.go, MatchConditions.Matches:
// one matchStringWithLabelPermutations per field), so `${labels:team}` in `account` and in `name`
// may take different values. regauth takes one value for both. The docs present this as regauth
// "matching less" and give a grant example ("gets b/x there and not here"), but for a rule that
// denies (or grants less than a later rule) matching less means granting MORE: the deny no longer
// decides and the later rule grants. regauth treats its other such cases (an empty placeholder
// value, too many label combinations, a dot segment) as "decides and grants nothing" so that "a
// deny written that way holds"; this one is left out.
//
// Passes when the deny rule still decides for the request docker_auth's rule matched (granting
// nothing), or when regauth refuses or warns about such a rule at load.

const rules: AclRuleConfig[] = [
  {
    match: { account: '${labels:team}-ci', name: '${labels:team}/*' },
    actions: [],
    comment: 'CI accounts never get their teams',
  },
  { match: { account: '/.+/' }, actions: ['pull'] },
];

const request: AuthzRequest = {
  account: 'a-ci',
  type: 'repository',
  name: 'b/x',
  service: 'registry',
  ip: null,
  labels: { team: ['a', 'b'] },
  actions: ['pull', 'push'],
};

test('a deny whose label placeholder appears in two fields still denies what docker_auth denied', () => {
  const acl = compileAcl(rules);
  if (acl.rules[0]!.warnings.length > 0) return;
  // docker_auth: account "a-ci" matches with team a, name "b/x" matches with team b -> rule 0 -> [].
  expect(acl.authorize(request)).toEqual({
    granted: [],
    rule: 0,
    comment: 'CI accounts never get their teams',
  });
});

test('the catalog and explain agree: the deny decides b/x for a-ci, a one-value match still grants', () => {
  const acl = compileAcl(rules);
  const { name: _name, actions: _actions, ...who } = request;
  expect(acl.filterNames(who, 'pull', ['b/x', 'c/x'])).toEqual(['c/x']);
  expect(acl.explain({ ...request, name: 'b/x' })[0]).toMatchObject({ match: 'yes', granted: [] });
  // One value for both fields (team a in a-ci and a/x): the rule denies, as in docker_auth.
  expect(acl.authorize({ ...request, name: 'a/x' })).toMatchObject({ granted: [], rule: 0 });
});
