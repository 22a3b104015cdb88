import { describe, expect, test } from 'vitest';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { randomPassword } from '../helpers/fixtures.js';
import { useSlapd } from './harness/directory.js';

/**
 * Found by a review of ldap_auth: a user in more groups than the directory returns to one search
 * (slapd's default `sizelimit 500`; Active Directory's MaxPageSize 1000) can never log in, and the
 * 503 the operator gets says only "ldap_auth: directory error 4:  Code: 0x4". The entry search's
 * size limit is named (ambiguous(): "check ldap_auth.base and ldap_auth.filter"); the group
 * search's is not: nothing says it was the group search, or what limit was hit. Failing closed
 * is right (a truncated group list could skip a label a rule needs); the message must name
 * ldap_auth.group_search and the size limit, so the operator knows what to change.
 */

const SUFFIX = 'dc=example,dc=org';
/** More than slapd's default size limit (500) for a non-root DN. */
const GROUPS = 600;

describe('a user in more groups than one search returns', () => {
  const pw = { alice: randomPassword(), svc: randomPassword() };
  const groups = Array.from(
    { length: GROUPS },
    (_, i) =>
      `dn: cn=g${i},ou=groups,${SUFFIX}\nobjectClass: groupOfNames\ncn: g${i}\n` +
      `member: uid=alice,ou=people,${SUFFIX}\n`,
  );
  const directory = useSlapd({
    tmpPrefix: 'regauth-ldap-group-limit-',
    bindPassword: pw.svc,
    ldif: [
      `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
      `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n`,
      `dn: uid=alice,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: alice\ncn: alice\nsn: alice\n` +
        `userPassword: ${pw.alice}\n`,
      `dn: uid=svc,${SUFFIX}\nobjectClass: account\nobjectClass: simpleSecurityObject\nuid: svc\n` +
        `userPassword: ${pw.svc}\n`,
      ...groups,
    ].join('\n'),
  });

  test('the 503 names ldap_auth.group_search and the size limit', async () => {
    const authn = directory.authenticator({
      addr: `127.0.0.1:${directory.slapd.port}`,
      bind_dn: `uid=svc,${SUFFIX}`,
      bind_password_file: 'bind-password',
      base: `ou=people,${SUFFIX}`,
      filter: '(&(objectClass=inetOrgPerson)(uid=${account}))',
      group_search: {
        base: `ou=groups,${SUFFIX}`,
        filter: '(&(objectClass=groupOfNames)(member=${dn}))',
      },
    });
    const err = await authn.authenticate({ account: 'alice', password: new Secret(pw.alice) }).then(
      (r) => r,
      (e: unknown) => e,
    );
    // Never a token with part of the groups.
    expect(err).toBeInstanceOf(BackendUnavailableError);
    const message = (err as Error).message;
    expect(message).toContain("ldap_auth: the group search reached the directory's size limit");
    expect(message).toContain('narrow ldap_auth.group_search.filter or base');
  });
});
