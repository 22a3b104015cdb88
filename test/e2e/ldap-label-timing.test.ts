import { describe, expect, test } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { randomPassword } from '../helpers/fixtures.js';
import { median } from '../helpers/enumeration.js';
import { useSlapd } from './harness/directory.js';

/**
 * docs/security.md "User enumeration": a made-up name gets "the same search ... as a known user
 * with a wrong password". Found by a review of ldap_auth: the search made before the password is
 * checked already asks for every label attribute, so a known entry's whole label data (an Active
 * Directory user's memberOf, often hundreds or thousands of values) crosses the wire and is
 * parsed on every failed login, while a made-up name's search returns nothing. The failed login's
 * time then grows with the size of the entry, and tells that the account exists.
 */

const SUFFIX = 'dc=example,dc=org';
/** An entry with many values in its label attribute (an AD user in many groups). */
const VALUES = 5000;

describe('a wrong password for an entry with large label attributes costs what a made-up name costs', () => {
  const pw = { alice: randomPassword(), svc: randomPassword() };
  const memberOf = Array.from(
    { length: VALUES },
    (_, i) => `description: cn=team-${i},ou=groups,${SUFFIX}\n`,
  ).join('');
  const directory = useSlapd({
    tmpPrefix: 'regauth-ldap-label-timing-',
    bindPassword: pw.svc,
    ldif: [
      `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
      `dn: uid=alice,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: alice\ncn: alice\nsn: alice\n` +
        `${memberOf}userPassword: ${pw.alice}\n`,
      `dn: uid=svc,${SUFFIX}\nobjectClass: account\nobjectClass: simpleSecurityObject\nuid: svc\n` +
        `userPassword: ${pw.svc}\n`,
    ].join('\n'),
  });

  test('median gap within 25 % (at least 0.5 ms) of the made-up name', async () => {
    const authn = directory.authenticator({
      addr: `127.0.0.1:${directory.slapd.port}`,
      bind_dn: `uid=svc,${SUFFIX}`,
      bind_password_file: 'bind-password',
      base: SUFFIX,
      filter: '(&(objectClass=inetOrgPerson)(uid=${account}))',
      labels: { groups: { attribute: 'description', parse_cn: true } },
    });
    // The label attribute really is read on success (so the config is not a no-op).
    const ok = await authn.authenticate({ account: 'alice', password: new Secret(pw.alice) });
    expect(ok.outcome).toBe('authenticated');
    expect(ok.outcome === 'authenticated' && ok.labels['groups']?.length).toBe(VALUES);

    const once = async (account: string): Promise<number> => {
      const started = performance.now();
      const r = await authn.authenticate({ account, password: new Secret('wrong-password') });
      const ms = performance.now() - started;
      expect(r.outcome === 'denied' || r.outcome === 'no_match').toBe(true);
      return ms;
    };
    for (let i = 0; i < 10; i++) {
      await once('alice');
      await once('nobody-here');
    }
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 150; i++) {
      // ABBA, as test/helpers/enumeration.ts.
      if (i % 2 === 0) {
        known.push(await once('alice'));
        unknown.push(await once('nobody-here'));
      } else {
        unknown.push(await once('nobody-here'));
        known.push(await once('alice'));
      }
    }
    const k = median(known);
    const u = median(unknown);
    const gap = median(known.map((ms, i) => ms - unknown[i]!));
    const bound = Math.max(0.25 * u, 0.5);
    expect(
      gap,
      `known ${k.toFixed(2)} ms, made-up ${u.toFixed(2)} ms, gap ${gap.toFixed(2)} ms > ${bound.toFixed(2)} ms`,
    ).toBeLessThanOrEqual(bound);
  });
});
