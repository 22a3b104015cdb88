/**
 * Found by a review of ldap_auth (docs/backends/ldap.md "One account, one name"): a `filter` that names the
 * account attribute by another of its schema names (`userid` for `uid`, a standard name in
 * OpenLDAP's cosine schema; `commonName` for `cn`) makes every login of every directory user a
 * `no_match`: 401 with the right password, as for a made-up name.
 *
 * slapd finds alice's entry for `(userid=alice)`, but returns each attribute under its primary
 * name (`uid`), whatever name the search asked for. storedSpelling looks for a `userid` value
 * (entry.ts attributeValues compares names only case-insensitively), finds none, and findEntry
 * then says "no entry" ("a matching rule we do not mirror"). docker_auth, which needs only the
 * entry's DN, authenticates with the same config; regauth loads it without a word and logs
 * nothing wrong: a drop-in replacement that silently refuses every directory user.
 *
 * Expected: an attribute is recognised under any of its names (the directory's subschema says
 * which names are one attribute), so `(userid=${account})` behaves as `(uid=${account})`; at the
 * least, an entry found whose account attribute came back under another name is an error that
 * says so (503, logged), never a silent 401 for everyone.
 */
import { describe, expect, test } from 'vitest';
import type { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { Secret } from '../../src/core/secret.js';
import { randomPassword } from '../helpers/fixtures.js';
import { useSlapd } from './harness/directory.js';

const SUFFIX = 'dc=example,dc=org';

describe('ldap_auth: attributes named by a schema alias (userid = uid, commonName = cn)', () => {
  const pw = { alice: randomPassword(), svc: randomPassword() };
  const directory = useSlapd({
    tmpPrefix: 'regauth-review-ldap-alias-',
    bindPassword: pw.svc,
    ldif: [
      `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
      `dn: uid=svc,${SUFFIX}\nobjectClass: account\nobjectClass: simpleSecurityObject\nuid: svc\nuserPassword: ${pw.svc}\n`,
      `dn: uid=alice,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice Liddell\nsn: Liddell\n` +
        `userPassword: ${pw.alice}\n`,
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
    a.authenticate({ account: 'alice', password: new Secret(pw.alice) }).catch((err: Error) => err.message);

  test('the primary names work (the control)', async () => {
    const a = make({ filter: '(uid=${account})', labels: { name: { attribute: 'cn' } } });
    expect(await alice(a)).toEqual({ outcome: 'authenticated', labels: { name: ['Alice Liddell'] } });
  });

  test('filter (userid=${account}): alice with her password is authenticated, as with (uid=${account})', async () => {
    const a = make({ filter: '(&(objectClass=inetOrgPerson)(userid=${account}))' });
    expect(await alice(a)).toEqual({ outcome: 'authenticated', labels: {} });
  });
});
