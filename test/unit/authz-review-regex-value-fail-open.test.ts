import { expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig, AuthzRequest } from '../../src/authz/types.js';

// Review of a048f58 + fa99bc0. docs/acl.md promises that a migrated rule meant to restrict "still
// holds" when only docker_auth's raw reading of a label value matches. fa99bc0 then skips that
// reading for any value read as a regular expression that holds one of `*+?{}()|`
// (pattern.ts runsSafely), saying "docker_auth's RE2 refuses many of them": RE2 accepts all of
// these (`.+`, `.*`, `(a|b)`); it only lacks back-references and look-around. The skipped reading
// fails OPEN: the deny no longer decides and the later rule grants. docker_auth
// (acl.go matchString: regexp.Match on the raw text) denies here. A value that may not be run
// should have the rule decide and grant nothing (as an unbuildable pattern already does,
// Unmatchable), or be run by a linear-time engine.

const grantAfter: AclRuleConfig = { match: { account: '/.+/' }, actions: ['pull', 'push'] };
const base: AuthzRequest = {
  account: 'dev',
  type: 'repository',
  name: 'prod-api',
  service: 'registry',
  ip: null,
  labels: {},
  actions: ['push'],
};

test.each([
  // A whole-value regex, as docs/acl.md says docker_auth's own docs suggest (`/^prod-/`), with a quantifier.
  ['${labels:frozen}', '/^prod-.+$/'],
  ['${labels:frozen}', '/^(prod|release)-/'],
  // A raw value inside the operator's regex.
  ['/^${labels:frozen}$/', 'prod-.*'],
  ['/^${labels:frozen}/', 'prod-[a-z]+'],
])('name %j with frozen %j: the deny docker_auth applies still decides', (name, value) => {
  const acl = compileAcl([{ match: { name }, actions: [], comment: 'frozen' }, grantAfter]);
  const request = { ...base, labels: { frozen: [value] } };
  expect(acl.authorize(request)).toEqual({ granted: [], rule: 0, comment: 'frozen' });
});
