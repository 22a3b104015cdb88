import { describe, expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AuthzRequest } from '../../src/authz/types.js';

const base: AuthzRequest = {
  account: 'alice',
  type: 'repository',
  name: 'team/app',
  service: 'registry',
  ip: null,
  labels: {},
  actions: ['pull'],
};

// The glob cannot match the dot-segment value whatever its wildcards do (no wildcard at all, or
// literal text the value does not have): nothing was "meant" to match it, so the rule must not
// decide, and the next rule keeps granting as before.
describe('a dot segment: a glob that could never match the dot-segment value', () => {
  test('braces of literals are not a wildcard', () => {
    const acl = compileAcl([
      { match: { account: '{bob,carol}' }, actions: ['*'] },
      { match: { account: '..' }, actions: ['pull'] },
    ]);
    expect(acl.authorize({ ...base, account: '..' })).toEqual({ granted: ['pull'], rule: 1 });
  });

  test('a literal suffix the value lacks', () => {
    const acl = compileAcl([
      { match: { labels: { group: '*-admins' } }, actions: ['*'] },
      { match: { account: 'alice' }, actions: ['pull'] },
    ]);
    expect(acl.authorize({ ...base, labels: { group: ['.'] } })).toEqual({ granted: ['pull'], rule: 1 });
  });
});
