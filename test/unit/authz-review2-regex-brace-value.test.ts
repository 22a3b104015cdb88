import { expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig } from '../../src/authz/types.js';

// Found by a review of 8558171 (pattern.ts compileRegex, `theirs`). docker_auth's reading of a regex is run
// only when a label value or capture holds a REGEX_SPECIAL character or a quantifier follows the
// placeholder (`quantified`). A plain value can still read otherwise there: inside a repeat count.
// `/^a{${labels:n}}$/` with n = `2` is `^a{2}$` in docker_auth (RE2: exactly `aa`), while regauth
// matches `^a{(?:2)}$`, which V8 reads as the literal text `a{2}`. So docker_auth's deny decides
// `aa`; here the rule does not match `aa` and the later rule grants it -- a grant beyond
// docker_auth, which docs/acl.md "Placeholders" promises never happens ("no later rule grants
// what docker_auth's match of that rule decides"). Same for `{1,${labels:n}}`.
// A fix: treat a raw placeholder inside `{…}` of the template (text before it ending in `{` or
// `{digits,`) as `quantified`, or compare docker_auth's expanded text with regauth's structurally.

const rules: AclRuleConfig[] = [
  { match: { name: '/^app{${labels:n}}$/' }, actions: [] },
  { match: { name: '/^ap{1,${labels:n}}$/' }, actions: [] },
  { match: {}, actions: ['pull'] },
];
const who = { account: 'dev', type: 'repository', service: 'registry', ip: null, labels: { n: ['2'] } };

test('a label value that is a repeat count in docker_auth reading still denies', () => {
  const acl = compileAcl(rules);
  // docker_auth: `^app{2}$` matches `appp`, and `^ap{1,2}$` matches `app`.
  expect(acl.authorize({ ...who, name: 'appp', actions: ['pull'] })).toEqual({ granted: [], rule: 0 });
  expect(acl.authorize({ ...who, name: 'app', actions: ['pull'] })).toEqual({ granted: [], rule: 1 });
  expect(acl.filterNames(who, 'pull', ['appp', 'app', 'other'])).toEqual(['other']);
});
