import { describe, expect, test } from 'vitest';
import { compileAcl, type NamelessRequest } from '../../src/authz/acl.js';
import type { AclRuleConfig, AuthzRequest } from '../../src/authz/types.js';

const base: AuthzRequest = {
  account: 'alice',
  type: 'repository',
  name: 'team/app',
  service: 'registry',
  ip: null,
  labels: {},
  actions: ['push'],
};

// A grant by label glob: a user whose "ops-admins" value matches it as written must be granted,
// whatever other values the label holds, and whatever their order.
const rules: AclRuleConfig[] = [
  { match: { labels: { group: '*-admins' } }, actions: ['*'] },
  { match: {}, actions: ['pull'] },
];

describe('a dot segment: a dot-segment label value next to one that matches', () => {
  test('authorize does not depend on the order of the label values', () => {
    const acl = compileAcl(rules);
    const after = acl.authorize({ ...base, labels: { group: ['ops-admins', '.'] } });
    expect(after).toEqual({ granted: ['push'], rule: 0 });
    // "." first: found by a review, the check stopped at the value it could not match and denied.
    const before = acl.authorize({ ...base, labels: { group: ['.', 'ops-admins'] } });
    expect(before).toEqual({ granted: ['push'], rule: 0 });
  });

  test('filterNames and explain agree with the matching value', () => {
    const acl = compileAcl(rules);
    const caller: NamelessRequest = {
      account: 'alice',
      type: 'repository',
      service: 'registry',
      ip: null,
      labels: { group: ['..', 'ops-admins'] },
    };
    expect(acl.filterNames(caller, 'push', ['team/app'])).toEqual(['team/app']);
    const [first] = acl.explain({
      account: 'alice',
      type: 'repository',
      name: 'team/app',
      actions: ['push'],
      labels: { group: ['..', 'ops-admins'] },
    });
    expect(first).toMatchObject({ index: 0, match: 'yes', granted: ['push'] });
  });
});
