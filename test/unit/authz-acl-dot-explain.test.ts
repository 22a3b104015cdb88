import { describe, expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig, AuthzRequest } from '../../src/authz/types.js';

const base: AuthzRequest = {
  account: '..',
  type: 'repository',
  name: 'y/app',
  service: 'registry',
  ip: null,
  labels: {},
  actions: ['pull'],
};

// Rule 0's account glob cannot match "..": authorize has it decide only when its dynamic check
// (the name) passes too (matches: `unmatchable && outcome === 'yes'`). explain must not claim
// more: with labels or the address unknown it drops the dynamic checks and says it decides.
describe('a dot segment: explain of a rule with an unmatchable fixed check and a dynamic one', () => {
  test('labels unknown: depends on them, as authorize shows', () => {
    const rules: AclRuleConfig[] = [
      { match: { account: '*', name: '${labels:team}/*' }, actions: [] },
      { match: { account: '..' }, actions: ['pull'] },
    ];
    const acl = compileAcl(rules);
    // With team "x" rule 0 does not match, rule 1 grants.
    expect(acl.authorize({ ...base, labels: { team: ['x'] } })).toEqual({ granted: ['pull'], rule: 1 });
    const [first] = acl.explain({ account: '..', type: 'repository', name: 'y/app', actions: ['pull'] });
    expect(first).toMatchObject({ index: 0, match: 'depends', conditions: ['name'] });
  });

  test('address unknown, labels known: the rule never matches', () => {
    const rules: AclRuleConfig[] = [
      { match: { account: '*', name: '${labels:team}/*', ip: '10.0.0.0/8' }, actions: [] },
      { match: { account: '..' }, actions: ['pull'] },
    ];
    const acl = compileAcl(rules);
    for (const ip of ['10.0.0.1', '192.0.2.1', null]) {
      expect(acl.authorize({ ...base, ip, labels: { team: ['x'] } })).toEqual({ granted: ['pull'], rule: 1 });
    }
    const [first] = acl.explain({
      account: '..',
      type: 'repository',
      name: 'y/app',
      actions: ['pull'],
      labels: { team: ['x'] },
    });
    expect(first).toMatchObject({ index: 0, match: 'no' });
  });
});
