import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { randomPassword } from '../helpers/fixtures.js';
import { useSlapd } from './harness/directory.js';

/**
 * Found by a review of the labels' read after the bind (a4251bc, 4d7c27e): it was a base-scope
 * search with the filter `(objectClass=*)`, which OpenLDAP evaluates under its ACLs: it needs
 * `search` on objectClass. A least-privilege ACL giving the service account the entry, the
 * account attribute and the label attribute (what the first search, a lookup, and the code
 * before a4251bc needed) but not objectClass let the first search find the entry and the lookup
 * read its labels, while the read by DN found nothing: every right password was a 503. The read
 * now uses the first search's filter, base-scoped to the entry.
 */
const SUFFIX = 'dc=example,dc=org';

describe('service account may read uid + the label attribute, not objectClass', () => {
  const pw = { alice: randomPassword(), svc: randomPassword() };
  const directory = useSlapd({
    tmpPrefix: 'regauth-ldap-objectclass-acl-',
    bindPassword: pw.svc,
    ldif: [
      `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
      `dn: uid=alice,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: alice\ncn: alice\nsn: alice\n` +
        `description: cn=team-a,ou=groups,${SUFFIX}\nuserPassword: ${pw.alice}\n`,
      `dn: uid=svc,${SUFFIX}\nobjectClass: account\nobjectClass: simpleSecurityObject\nuid: svc\n` +
        `userPassword: ${pw.svc}\n`,
    ].join('\n'),
  });

  beforeAll(async () => {
    const conf = join(directory.tmp.dir, 'slapd', 'slapd.conf');
    const text = readFileSync(conf, 'utf8').replace(
      'access to * by users read by * none',
      [
        `access to attrs=entry,uid,description by dn.exact="uid=svc,${SUFFIX}" read by self read by * none`,
        'access to * by self read by * none',
      ].join('\n'),
    );
    writeFileSync(conf, text);
    await directory.slapd.stop();
    await directory.slapd.start();
  }, 60_000);

  const section = () => ({
    addr: `127.0.0.1:${directory.slapd.port}`,
    bind_dn: `uid=svc,${SUFFIX}`,
    bind_password_file: 'bind-password',
    base: SUFFIX,
    filter: '(uid=${account})',
    labels: { groups: { attribute: 'description', parse_cn: true } },
  });

  test('control: the refresh lookup (service account) reads the labels', async () => {
    const authn = directory.authenticator(section());
    expect(await authn.lookup!('alice')).toEqual({ labels: { groups: ['team-a'] } });
  });

  test('the right password logs in with its labels (as before a4251bc), not a 503', async () => {
    const authn = directory.authenticator(section());
    const r = await authn.authenticate({ account: 'alice', password: new Secret(pw.alice) }).then(
      (x) => x,
      (e: unknown) => `threw ${(e as Error).message}`,
    );
    expect(r).toEqual({ outcome: 'authenticated', labels: { groups: ['team-a'] } });
  });
});
