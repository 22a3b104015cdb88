import { describe, expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig } from '../../src/authz/types.js';

// Found by a review of f99f54d. docker_auth's reading of a regex (pattern.ts compileRegex
// `theirs`) is built by expandAsDockerAuth(parts, resolve, wrapRegexValue): `${account}`,
// `${name}`, ... are escaped AND wrapped in `(?:...)`. docker_auth only QuoteMeta's them
// (acl.go Matches: "${account}", regexp.QuoteMeta(ai.Account)), no group. So a label value that
// starts with a quantifier, put in raw after `${account}`, applies there to the account's LAST
// character and here to the whole account: `/^${account}${labels:x}$/` with account `bob` and
// x = `+` is `^bob+$` in docker_auth (matching `bobbb`) and `^(?:bob)+$` in regauth's reading of
// it (not matching). The deny is then not decided, and the next rule grants. A capture in the
// same place (`${account:1}${labels:x}`) is read right (both raw).
// A fix: expand value placeholders for docker_auth's reading as QuoteMeta does (escapeRegex,
// without the `(?:…)`), not with wrapRegexValue.

const who = { type: 'repository', service: 'registry', ip: null, account: 'bob' };

const cases: { rule: string; value: string; name: string }[] = [
  { rule: '/^${account}${labels:x}$/', value: '+', name: 'bobbb' },
  { rule: '/^${account}${labels:x}$/', value: '?', name: 'bo' },
  { rule: '/^${account}${labels:x}/', value: '{2,}-', name: 'bobbb-app' },
];

describe.each(cases)('deny $rule with x = $value, then a grant', ({ rule, value, name }) => {
  const rules: AclRuleConfig[] = [
    { match: { name: rule }, actions: [] },
    { match: {}, actions: ['pull'] },
  ];
  const request = { ...who, labels: { x: [value] } };

  test('docker_auth matches the name: rule 0 decides, granting nothing', () => {
    const acl = compileAcl(rules);
    const scope = { ...request, name, actions: ['pull'] };
    // Today: { granted: ['pull'], rule: 1 }.
    expect(acl.authorize(scope)).toEqual({ granted: [], rule: 0 });
    expect(acl.filterNames(request, 'pull', [name])).toEqual([]);
    expect(acl.explain(scope)[0]).toMatchObject({ match: 'yes', granted: [] });
  });
});
