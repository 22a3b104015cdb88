import { describe, expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig } from '../../src/authz/types.js';

// Found by a review of 8558171. The rule index (acl.ts buildIndex) files a rule under Pattern.prefix; for a
// regex, regexPrefix reads the literal text after `^` up to the first placeholder (`foo` for
// `/^foo${labels:x}/`). 8558171 now runs docker_auth's reading of such a regex (RE2, the value
// put in raw) for EVERY value, including ones holding `|` or a quantifier, which runsSafely used
// to skip. In that reading the prefix no longer holds: x = `|bar` gives `^foo|bar` (searched
// anywhere: `xbar` matches), x = `*` gives `^x*.*` (the `x` optional). The rule then decides
// such a name (granting nothing) for `authorize` with `{index: false}`, `filterNames`, `explain`
// and docker_auth -- but the indexed `authorize` (the token endpoint) never tries it, and a later
// rule grants. 8558171 fixed exactly this for globs (`/${labels:x}` gets no prefix) and left the
// regex prefix alone.
// A fix: a regex whose template holds a label or capture placeholder gets the prefix only up to
// text docker_auth's reading cannot undo: none when the template is searched with raw values
// (or: drop the prefix when the placeholder is raw, as compileGlob now does for `/…` globs).

const who = { account: 'dev', type: 'repository', service: 'registry', ip: null };

const cases: { rule: string; value: string; name: string }[] = [
  { rule: '/^foo${labels:x}/', value: '|bar', name: 'xbar' },
  { rule: '/^x${labels:x}.*/', value: '*', name: 'a/b' },
  { rule: '/^team-${labels:x}\\//', value: '?', name: 'team/app' },
];

describe.each(cases)('deny $rule with x = $value, then a grant', ({ rule, value, name }) => {
  const rules: AclRuleConfig[] = [
    { match: { name: rule }, actions: [] },
    { match: {}, actions: ['pull'] },
  ];
  const request = { ...who, labels: { x: [value] } };

  test('the indexed authorize decides as every other path does', () => {
    const flat = compileAcl(rules, 'acl', { index: false });
    const indexed = compileAcl(rules);
    const scope = { ...request, name, actions: ['pull'] };
    // Every other reader: rule 0 decides the name (docker_auth's reading matches it), granting nothing.
    expect(flat.authorize(scope)).toEqual({ granted: [], rule: 0 });
    expect(indexed.filterNames(request, 'pull', [name])).toEqual([]);
    expect(indexed.explain(scope)[0]).toMatchObject({ match: 'yes', granted: [] });
    // The token endpoint's path: today { granted: ['pull'], rule: 1 }.
    expect(indexed.authorize(scope)).toEqual({ granted: [], rule: 0 });
  });
});
