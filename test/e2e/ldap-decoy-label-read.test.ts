import { describe, expect, test } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { randomPassword } from '../helpers/fixtures.js';
import { useSlapd } from './harness/directory.js';

/**
 * Found by a review of the first version of the labels' read after the bind (a4251bc): every
 * refused login reads the labels of the decoy DN, and only NoSuchObject counted as "the decoy's
 * entry is not there". The decoy DN is built from the filter's first account term; for a filter
 * written for both AD and OpenLDAP (`(|(sAMAccountName=${account})(uid=${account}))`,
 * test/e2e/ldap-decoy-dn.test.ts) OpenLDAP answers a base search on
 * `sAMAccountName=regauth-decoy-…,<base>` with invalidDNSyntax (34), which the decoy's bind takes
 * as a refusal: with labels configured, every wrong password and every made-up name became a 503.
 */
const SUFFIX = 'dc=example,dc=org';

describe('labels + a filter naming sAMAccountName first, on OpenLDAP', () => {
  const pw = { alice: randomPassword(), svc: randomPassword() };
  const directory = useSlapd({
    tmpPrefix: 'regauth-ldap-decoy-label-read-',
    bindPassword: pw.svc,
    ldif: [
      `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
      `dn: uid=alice,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: alice\ncn: alice\nsn: alice\n` +
        `description: cn=team-a,ou=groups,${SUFFIX}\nuserPassword: ${pw.alice}\n`,
      `dn: uid=svc,${SUFFIX}\nobjectClass: account\nobjectClass: simpleSecurityObject\nuid: svc\n` +
        `userPassword: ${pw.svc}\n`,
    ].join('\n'),
  });
  const section = () => ({
    addr: `127.0.0.1:${directory.slapd.port}`,
    bind_dn: `uid=svc,${SUFFIX}`,
    bind_password_file: 'bind-password',
    base: SUFFIX,
    filter: '(|(sAMAccountName=${account})(uid=${account}))',
    labels: { groups: { attribute: 'description', parse_cn: true } },
  });

  test('the right password still logs in with its labels', async () => {
    const authn = directory.authenticator(section());
    const ok = await authn.authenticate({ account: 'alice', password: new Secret(pw.alice) });
    expect(ok).toEqual({ outcome: 'authenticated', labels: { groups: ['team-a'] } });
  });

  test('a wrong password is denied (401), not an outage (503)', async () => {
    const authn = directory.authenticator(section());
    const r = await authn.authenticate({ account: 'alice', password: new Secret(randomPassword()) }).then(
      (x) => x.outcome,
      (e: unknown) => `threw ${(e as Error).message}`,
    );
    expect(r).toBe('denied');
  });

  test('a made-up name is no_match, not an outage (503)', async () => {
    const authn = directory.authenticator(section());
    const r = await authn
      .authenticate({ account: 'nobody-here', password: new Secret(randomPassword()) })
      .then(
        (x) => x.outcome,
        (e: unknown) => `threw ${(e as Error).message}`,
      );
    expect(r).toBe('no_match');
  });
});
