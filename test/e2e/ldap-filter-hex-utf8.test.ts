/**
 * Found by a review of ldap_auth (docs/backends/ldap.md, `filter`, `group_search.filter`): a filter in the
 * config that writes a non-ASCII character in RFC 4515's escaped form (`d\c3\a9v` for `dév`, as
 * `ldapsearch` users and docker_auth configs may do) is loaded without a word, then never matches.
 *
 * The filter text is handed to ldapts as a string; its FilterParser decodes each `\XX` escape as
 * one UTF-16 code unit (String.fromCharCode), not as a byte of UTF-8, so `\c3\a9` becomes the two
 * characters "Ã©" and is sent as four bytes (c3 83 c2 a9). RFC 4515 says the escapes are the
 * octets of the UTF-8 value; Go's ldap library (docker_auth) and slapd's own tools decode them so.
 * The result: a restriction such as "members of cn=dév" in `filter` makes every user of the
 * directory `no_match` (401 with the right password) and a group search with such a term gives
 * no groups (labels silently missing), while the same filter with the raw character works. No
 * error at load, none at run time: the operator sees only refused logins.
 *
 * Expected: `\XX` escapes in the configured filters are read as UTF-8 octets, so the escaped and
 * the raw spelling of one filter find the same entry (or such a filter is refused at load).
 */
import { describe, expect, test } from 'vitest';
import type { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { Secret } from '../../src/core/secret.js';
import { randomPassword } from '../helpers/fixtures.js';
import { useSlapd } from './harness/directory.js';

const SUFFIX = 'dc=example,dc=org';

describe('ldap_auth: RFC 4515 hex escapes of UTF-8 in the configured filters', () => {
  const pw = { alice: randomPassword(), svc: randomPassword() };
  const directory = useSlapd({
    tmpPrefix: 'regauth-review-ldap-hex-',
    bindPassword: pw.svc,
    memberOf: true,
    ldif: [
      `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
      `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n`,
      `dn: uid=svc,${SUFFIX}\nobjectClass: account\nobjectClass: simpleSecurityObject\nuid: svc\nuserPassword: ${pw.svc}\n`,
      `dn: uid=alice,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: alice\ncn: alice\nsn: alice\n` +
        `departmentNumber: Développement\nuserPassword: ${pw.alice}\n`,
      `dn: cn=d\\C3\\A9v,ou=groups,${SUFFIX}\nobjectClass: groupOfNames\ncn: dév\nbusinessCategory: équipe\n` +
        `member: uid=alice,ou=people,${SUFFIX}\n`,
    ].join('\n'),
  });

  const make = (section: Record<string, unknown>): LdapAuthenticator =>
    directory.authenticator({
      addr: `127.0.0.1:${directory.slapd.port}`,
      bind_dn: `uid=svc,${SUFFIX}`,
      bind_password_file: 'bind-password',
      base: `ou=people,${SUFFIX}`,
      ...section,
    });

  const alice = (a: LdapAuthenticator) =>
    a.authenticate({ account: 'alice', password: new Secret(pw.alice) });

  test.each([
    ['raw', '(&(departmentNumber=Développement)(uid=${account}))'],
    ['escaped', '(&(departmentNumber=D\\c3\\a9veloppement)(uid=${account}))'],
    ['raw DN', `(&(memberOf=cn=dév,ou=groups,${SUFFIX})(uid=\${account}))`],
    ['escaped DN', `(&(memberOf=cn=d\\c3\\a9v,ou=groups,${SUFFIX})(uid=\${account}))`],
  ])('filter, %s: alice, right password, is authenticated', async (_name, filter) => {
    expect((await alice(make({ filter }))).outcome).toBe('authenticated');
  });

  test.each([
    ['raw', '(&(businessCategory=équipe)(member=${dn}))'],
    ['escaped', '(&(businessCategory=\\c3\\a9quipe)(member=${dn}))'],
  ])('group_search.filter, %s: alice gets her group', async (_name, filter) => {
    const a = make({
      filter: '(uid=${account})',
      group_search: { base: `ou=groups,${SUFFIX}`, filter, attribute: 'cn', label: 'groups' },
    });
    expect(await alice(a)).toEqual({ outcome: 'authenticated', labels: { groups: ['dév'] } });
  });
});
