import { expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig, AuthzRequest } from '../../src/authz/types.js';

// Found by a review of the docker_auth drop-in promise (README, docs/acl.md "Differences from
// docker_auth").
//
// docker_auth substitutes label values into a pattern as they are (auth_server/authz/acl.go,
// matchStringWithLabelPermutations: `labelVars = append(labelVars, val.([]string)...)`, then
// strings.NewReplacer in matchString, no QuoteMeta), and its own Labels documentation ("Using Labels
// for User Based Access") recommends exactly that: label values that are globs, such as
// `read-only-access: ["prod/*"]`, with rules `{name: "${labels:read-only-access}"}`.
//
// regauth escapes the value (docs/acl.md lists it under "On purpose, where docker_auth's
// behaviour would let a rule grant more than it says"), so `prod/*` only matches the name
// `prod/*`. For a rule that RESTRICTS (grants fewer actions than a later rule, or `actions: []`)
// that is the opposite of safe: the restricting rule no longer decides, and the later, broader
// rule grants. A migrated docker_auth ACL silently gives push (or everything) on prod.
//
// Passes when regauth lets the restricting rule decide (granting what it grants, or nothing, as
// regauth already does for empty placeholder values), or refuses such a rule at load.

const user: AuthzRequest = {
  account: 'test-user',
  type: 'repository',
  name: 'prod/app',
  service: 'registry',
  ip: null,
  labels: { group: ['developers'], 'read-only-access': ['prod/*'], blocked: ['secret/*'] },
  actions: ['pull', 'push'],
};

test('a read-only rule from a glob label value (docker_auth Labels documentation) still keeps push off prod/app', () => {
  const rules: AclRuleConfig[] = [
    // docker_auth: pattern "prod/*" -> path.Match matches prod/app -> pull only.
    { match: { name: '${labels:read-only-access}' }, actions: ['pull'] },
    { match: { labels: { group: 'developers' } }, actions: ['pull', 'push'] },
  ];
  const decision = compileAcl(rules).authorize(user);
  expect(decision.granted).not.toContain('push');
  expect(decision.rule).toBe(0);
});

test('a deny rule from a glob label value still denies', () => {
  const rules: AclRuleConfig[] = [
    // docker_auth: pattern "secret/*" matches secret/db -> explicit deny.
    { match: { name: '${labels:blocked}' }, actions: [] },
    { match: { account: '/.+/' }, actions: ['*'] },
  ];
  const decision = compileAcl(rules).authorize({ ...user, name: 'secret/db' });
  expect(decision).toEqual({ granted: [], rule: 0 });
});

test('a read-only rule from a /regex/ label value still keeps push off the names it matches', () => {
  // docker_auth decides whether a pattern is a regex after substitution (matchString: the
  // replaced text is tested for `/.../`), so the label value "/^prod-/" makes `name:
  // "${labels:read-only-access}"` the regex ^prod- there: prod-api gets pull only.
  const rules: AclRuleConfig[] = [
    { match: { name: '${labels:read-only-access}' }, actions: ['pull'] },
    { match: { labels: { group: 'developers' } }, actions: ['pull', 'push'] },
  ];
  const decision = compileAcl(rules).authorize({
    ...user,
    name: 'prod-api',
    labels: { group: ['developers'], 'read-only-access': ['/^prod-/'] },
  });
  expect(decision.granted).not.toContain('push');
  expect(decision.rule).toBe(0);
});

test('the catalog lists what the token endpoint grants: not the names only docker_auth reading denies', () => {
  const acl = compileAcl([
    { match: { name: '${labels:blocked}' }, actions: [] },
    { match: { account: '/.+/' }, actions: ['*'] },
  ]);
  const { name: _name, actions: _actions, ...who } = user;
  expect(acl.filterNames(who, 'pull', ['secret/db', 'prod/app', 'secret'])).toEqual(['prod/app', 'secret']);
  expect(acl.authorize({ ...user, name: 'secret' }).granted).toEqual(['pull', 'push']);
});
