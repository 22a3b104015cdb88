import { Minimatch } from 'minimatch';
import { afterEach, expect, test, vi } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig } from '../../src/authz/types.js';

// Review of a048f58 (acl.ts Evaluation.bindName returning 'per-name'). Step counts, not time:
// glob matches run (Minimatch.prototype.match) while the filtered catalog filters names.
//
// 1. ONE label value holding glob syntax (`x*`, which any backend may send: an OIDC group, a CI
//    claim) among an account's values makes a rule on `${labels:team}/*` go per name: every name
//    then re-expands and re-matches every one of the values (pattern.match without the bound
//    test's prefix check), where the bound tests (anyOf of prefix-checked globTest) ran none.
//    Measured: 9,999 plain values + `x*`, 76 ms per name (12 min for a 10,000-name catalog),
//    against 0.1 ms per name before the commit.
// 2. A rule with a label in two fields (the docs' own `account: ${labels:team}-ci` -- here `-ci*`, a glob,
//    `name: ${labels:team}/*`) is per-name ALWAYS, whatever the values (bindName's
//    `if (rule.sharesLabels) return 'per-name'`), even when its account check matches for no
//    value, field by field or not, so it can decide no name. 1,000 teams, 10,000 names: 2 ms
//    before, 4 s now.
// A fix: bind docker_auth's reading as a deny alternative (as `empty` combinations are), and
// decide the non-name checks of a shared-label rule field by field once per caller.

afterEach(() => vi.restoreAllMocks());
const who = { account: 'dev-ci', type: 'repository', service: 'registry', ip: null };
const names = Array.from({ length: 200 }, (_, i) => `org${i % 10}/app${i}`);

test('one glob-like label value does not make every name match every value', () => {
  const teams = [...Array.from({ length: 2000 }, (_, i) => `team${i}`), 'x*'];
  const rules: AclRuleConfig[] = [
    { match: { name: '${labels:team}/*' }, actions: [] },
    { match: {}, actions: ['pull'] },
  ];
  const acl = compileAcl(rules);
  const spy = vi.spyOn(Minimatch.prototype, 'match');
  expect(acl.filterNames({ ...who, labels: { team: teams } }, 'pull', names)).toEqual(names);
  expect(spy.mock.calls.length).toBeLessThan((names.length * teams.length) / 10);
});

test('a shared-label rule whose account matches no value is not tried per name', () => {
  const teams = Array.from({ length: 50 }, (_, i) => `team${i}`);
  const rules: AclRuleConfig[] = [
    { match: { account: '${labels:team}-ci*', name: '${labels:team}/*' }, actions: [] },
    { match: {}, actions: ['pull'] },
  ];
  const acl = compileAcl(rules);
  const spy = vi.spyOn(Minimatch.prototype, 'match');
  expect(acl.filterNames({ ...who, labels: { team: teams } }, 'pull', names)).toEqual(names);
  // dev-ci is no team's CI account: the rule decides no name, which one pass can tell.
  expect(spy.mock.calls.length).toBeLessThan(names.length);
});
