import { expect, test } from 'vitest';
import { entryLabels } from '../../src/authn/ldap/entry.js';

// Found by a review of the docker_auth drop-in promise for `ldap_auth.labels.*.lower_case`
// (docs/backends/ldap.md: "docker_auth's `ldap_auth` keys").
//
// docker_auth lowers a label value with Go's strings.ToLower (auth_server/authn/ldap_auth.go,
// getLabelsFromMap, lines 303-306), which maps each character on its own with Unicode's simple
// lower-case mapping (unicode.ToLower): `İ` (U+0130) becomes `i`, and `Σ` always becomes `σ`.
// regauth uses JavaScript's String.prototype.toLowerCase (src/authn/ldap/entry.ts labelValue),
// which applies the full, context-dependent mapping: `İ` becomes `i` plus U+0307, and a final
// `Σ` becomes `ς`. The same directory group then yields another label value, and an ACL rule
// written against docker_auth's value (`labels: {groups: διαχειριστεσ}`) silently stops
// matching. (regauth already folds account names this way for the same reason:
// src/core/account-name.ts foldAccountName.)

const groups = (values: string[]) =>
  entryLabels(
    {
      labels: new Map([['groups', { attribute: 'memberOf', parseCn: true, lowerCase: true }]]),
      groupSearch: undefined,
    },
    { dn: 'uid=alice,dc=example,dc=org', memberOf: values },
    [],
  ).groups;

test.each<[string, string]>([
  ['cn=İstanbul,ou=groups,dc=example,dc=org', 'istanbul'],
  ['cn=ΔΙΑΧΕΙΡΙΣΤΕΣ,ou=groups,dc=example,dc=org', 'διαχειριστεσ'],
])('lower_case turns %s into %s, as Go strings.ToLower does', (dn, lowered) => {
  expect(groups([dn])).toEqual([lowered]);
});
