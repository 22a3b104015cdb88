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
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { compileLdapConfig, ldapAuthSchema } from '../../src/authn/ldap/config.js';
import { Secret } from '../../src/core/secret.js';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { startSlapd, type Slapd } from './harness/slapd.js';

const SUFFIX = 'dc=example,dc=org';

describe('ldap_auth: attributes named by a schema alias (userid = uid, commonName = cn)', () => {
  const tmp = tempDir('regauth-review-ldap-alias-');
  const pw = { alice: randomPassword(), svc: randomPassword() };
  let slapd: Slapd;
  const authenticators: LdapAuthenticator[] = [];

  beforeAll(async () => {
    slapd = await startSlapd({
      dir: join(tmp.dir, 'slapd'),
      ldif: [
        `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
        `dn: uid=svc,${SUFFIX}\nobjectClass: account\nobjectClass: simpleSecurityObject\nuid: svc\nuserPassword: ${pw.svc}\n`,
        `dn: uid=alice,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice Liddell\nsn: Liddell\n` +
          `userPassword: ${pw.alice}\n`,
      ].join('\n'),
    });
    writeFileSync(join(tmp.dir, 'bind-password'), pw.svc);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(authenticators.map((a) => a.close()));
    await slapd?.stop();
    tmp.cleanup();
  });

  function make(section: Record<string, unknown>): LdapAuthenticator {
    const config = compileLdapConfig(
      ldapAuthSchema.parse({
        addr: `127.0.0.1:${slapd.port}`,
        bind_dn: `uid=svc,${SUFFIX}`,
        bind_password_file: 'bind-password',
        base: `ou=people,${SUFFIX}`,
        ...section,
      }),
      { at: (p) => (p.startsWith('/') ? p : join(tmp.dir, p)), readFile: (_y, p) => readFileSync(p, 'utf8') },
    );
    const a = new LdapAuthenticator(config);
    authenticators.push(a);
    return a;
  }

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
