import { expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig, AuthzRequest } from '../../src/authz/types.js';

// Review of a048f58. A glob written `/${labels:blocked}` becomes `/prod/` under docker_auth's raw
// reading of the value `prod/`, which docker_auth (auth_server/authz/acl.go matchString) runs as
// the regular expression `prod`: it matches `prod/app`, so docker_auth's deny decides. regauth's
// Pattern.match knows that reading (dockerAuthReadings) and has the rule decide and grant nothing,
// but the rule index (acl.ts buildIndex) files the rule under the glob's literal prefix `/`, which
// that reading does not keep: `authorize` never tries the rule for `prod/app`, while
// `filterNames`, `explain` and `authorize` with `index: false` do. docs/acl.md: "The decisions
// are the same either way".

const rules: AclRuleConfig[] = [
  { match: { name: '/${labels:blocked}' }, actions: [], comment: 'blocked repositories' },
  { match: { account: '/.+/' }, actions: ['pull'] },
];
const request: AuthzRequest = {
  account: 'bob',
  type: 'repository',
  name: 'prod/app',
  service: 'registry',
  ip: null,
  labels: { blocked: ['prod/'] },
  actions: ['pull'],
};

test('the indexed authorize decides as the unindexed one, filterNames and explain', () => {
  const indexed = compileAcl(rules);
  const flat = compileAcl(rules, 'acl', { index: false });
  const { name: _n, actions: _a, ...who } = request;
  // What the rest of regauth (and docker_auth) decide: rule 0, nothing granted.
  expect(flat.authorize(request)).toEqual({ granted: [], rule: 0, comment: 'blocked repositories' });
  expect(indexed.filterNames(who, 'pull', ['prod/app'])).toEqual([]);
  expect(indexed.explain(request)[0]).toMatchObject({ match: 'yes', granted: [] });
  // The indexed authorize (the token endpoint, `regauth check`) grants pull through rule 1.
  expect(indexed.authorize(request)).toEqual(flat.authorize(request));
});
