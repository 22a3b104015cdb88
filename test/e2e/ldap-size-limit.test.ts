import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { compileLdapConfig, ldapAuthSchema } from '../../src/authn/ldap/config.js';
import { Secret } from '../../src/core/secret.js';
import { randomPassword } from '../helpers/fixtures.js';
import { useSlapd } from './harness/directory.js';

/**
 * "The filter matches more than one entry → 503" (docs/backends/ldap.md, Outcomes). Found by a
 * review: it held only while the directory let the service account see two entries. The search
 * asked for `sizeLimit: 2`, and ldapts, given a sizeLimit, drops the result code
 * sizeLimitExceeded (4) and returns the partial entries. A directory whose size limit for the
 * service account is 1 (`sizelimit 1`, `limits … size=1`) returned the first of two matches with
 * code 4, taken as THE entry. Here mallory's mail is `alice` (an alias she was given, or a
 * self-service attribute), so `(|(uid=${account})(mail=${account}))` finds both entries for
 * `alice`, and the password of whichever entry came first was accepted for the name `alice`.
 */

const SUFFIX = 'dc=example,dc=org';
const pw = { alice: randomPassword(), mallory: randomPassword(), svc: randomPassword() };
const person = (uid: 'alice' | 'mallory', mail: string) =>
  `dn: uid=${uid},ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\n` +
  `mail: ${mail}\nuserPassword: ${pw[uid]}\n`;
const directory = useSlapd({
  tmpPrefix: 'regauth-ldap-size-limit-',
  bindPassword: pw.svc,
  ldif: [
    `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services\n`,
    person('mallory', 'alice'),
    person('alice', 'alice@example.org'),
    `dn: uid=svc,ou=services,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: svc\ncn: svc\nsn: svc\nuserPassword: ${pw.svc}\n`,
  ].join('\n'),
});
const { tmp } = directory;

function make(): LdapAuthenticator {
  const raw = ldapAuthSchema.parse({
    addr: `127.0.0.1:${directory.slapd.port}`,
    bind_dn: `uid=svc,ou=services,${SUFFIX}`,
    bind_password_file: 'bind-password',
    base: `ou=people,${SUFFIX}`,
    filter: '(&(objectClass=inetOrgPerson)(|(uid=${account})(mail=${account})))',
    operation_timeout: 2,
  });
  return new LdapAuthenticator(compileLdapConfig(raw, { at: (p) => p, readFile: () => pw.svc }));
}

describe('a directory size limit below 2', () => {
  test('without a server limit, two entries for one name are a 503 (as documented)', async () => {
    const a = make();
    await expect(a.authenticate({ account: 'alice', password: new Secret(pw.alice) })).rejects.toThrow(
      /more than one entry/,
    );
    await a.close();
  });

  test('with `sizelimit 1` on the directory, the same search must still fail closed', async () => {
    // The database section of the harness's slapd.conf ends the file: the limit applies there.
    appendFileSync(join(tmp.dir, 'slapd', 'slapd.conf'), 'sizelimit 1\n');
    await directory.slapd.stop();
    await directory.slapd.start();
    const a = make();
    try {
      const outcome = (password: string) =>
        a.authenticate({ account: 'alice', password: new Secret(password) }).then(
          (r) => r.outcome,
          (err: Error) => (/more than one entry/.test(err.message) ? '503 ambiguous' : `503: ${err.message}`),
        );
      const outcomes = { alice: await outcome(pw.alice), mallory: await outcome(pw.mallory) };
      expect(outcomes).toEqual({ alice: '503 ambiguous', mallory: '503 ambiguous' });
    } finally {
      await a.close();
    }
  });
});
