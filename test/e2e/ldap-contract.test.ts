import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { compileLdapConfig, ldapAuthSchema } from '../../src/authn/ldap/config.js';
import { describeAuthenticatorContract } from '../helpers/authn-contract.js';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { freePort } from './harness/ports.js';
import { startSlapd, type Slapd } from './harness/slapd.js';

// The authenticator contract (test/unit/authn-contract.test.ts runs it on a fake directory)
// against OpenLDAP itself: its own filter matching, binds and result codes.

const SUFFIX = 'dc=example,dc=org';
const pw = { alice: randomPassword(), svc: randomPassword() };

function ldif(): string {
  const entry = (uid: string, ou: string, password: string) =>
    `dn: uid=${uid},ou=${ou},${SUFFIX}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\n` +
    `mail: ${uid}@example.org\nuserPassword: ${password}\n`;
  return [
    `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services\n`,
    `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n`,
    entry('alice', 'people', pw.alice),
    entry('svc', 'services', pw.svc),
    `dn: cn=devs,ou=groups,${SUFFIX}\nobjectClass: groupOfNames\ncn: devs\nmember: uid=alice,ou=people,${SUFFIX}\n`,
  ].join('\n');
}

const tmp = tempDir('regauth-ldap-contract-');
let slapd: Slapd;
let closedPort: number;
beforeAll(async () => {
  slapd = await startSlapd({ dir: join(tmp.dir, 'slapd'), ldif: ldif() });
  closedPort = await freePort();
});
afterAll(async () => {
  await slapd?.stop();
  tmp.cleanup();
});

function ldapAt(port: number): LdapAuthenticator {
  const raw = ldapAuthSchema.parse({
    addr: `127.0.0.1:${port}`,
    bind_dn: `uid=svc,ou=services,${SUFFIX}`,
    bind_password_file: 'bind-password',
    base: `ou=people,${SUFFIX}`,
    filter: '(&(objectClass=inetOrgPerson)(uid=${account}))',
    labels: { mail: { attribute: 'mail' } },
    group_search: {
      base: `ou=groups,${SUFFIX}`,
      filter: '(&(objectClass=groupOfNames)(member=${dn}))',
      attribute: 'cn',
      label: 'groups',
    },
    operation_timeout: 2,
  });
  return new LdapAuthenticator(compileLdapConfig(raw, { at: (p) => p, readFile: () => `${pw.svc}\n` }));
}

describeAuthenticatorContract('ldap_auth (slapd)', () => ({
  authenticator: ldapAt(slapd.port),
  known: { account: 'alice', password: pw.alice },
  wrongPassword: randomPassword(),
  unknown: { account: 'nobody', password: randomPassword() },
  unknownAnswer: 'no_match',
  // Nothing listens there.
  unavailable: () => ldapAt(closedPort),
}));
