import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { basic, randomPassword } from '../helpers/fixtures.js';
import { useSlapd } from './harness/directory.js';
import { SERVICE, startRegauth, type RegauthStack } from './harness/stack.js';

/**
 * docs/backends/ldap.md "One account, one name". Found by a review: an entry with several values
 * in the filter's account attribute (a second `uid`, kept after a rename; or mail aliases with
 * `(mail=${account}@…)`) was as many accounts, since the value matching what was typed was
 * preferred: `alice.old` and `alice` (one entry, one password) had two token subjects, two ACL
 * identities, two lockout counts. Once alice was locked, her password was still checked, and
 * accepted, under `alice.old`: each alias bought another `max_failures` guesses.
 */

const SUFFIX = 'dc=example,dc=org';
const MAX_FAILURES = 3;

describe('an entry with two uid values is one account', () => {
  const pw = { alice: randomPassword(), svc: randomPassword() };
  const directory = useSlapd({
    tmpPrefix: 'regauth-ldap-one-name-',
    bindPassword: pw.svc,
    ldif: [
      `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
      `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services\n`,
      // alice was renamed from alice.old; the old uid value is kept, as directories often do.
      `dn: uid=alice,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: alice\nuid: alice.old\n` +
        `cn: alice\nsn: alice\nuserPassword: ${pw.alice}\n`,
      `dn: uid=svc,ou=services,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: svc\ncn: svc\nsn: svc\n` +
        `userPassword: ${pw.svc}\n`,
    ].join('\n'),
  });
  let s: RegauthStack;

  beforeAll(async () => {
    const slapd = directory.slapd;
    s = await startRegauth({
      name: 'ldap-one-name',
      tmp: directory.tmp,
      config: `lockout:
  max_failures: ${MAX_FAILURES}
  backoff: 60
credential_cache:
  ttl: 0
ldap_auth:
  addr: "127.0.0.1:${slapd.port}"
  bind_dn: "uid=svc,ou=services,${SUFFIX}"
  bind_password_file: bind-password
  base: "ou=people,${SUFFIX}"
  filter: "(&(objectClass=inetOrgPerson)(uid=\${account}))"
acl:
  - match: {account: alice}
    actions: [pull, push]
`,
    });
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
  });

  const request = (user: string, password: string) =>
    fetch(`${s.regauth.url}/auth?service=${SERVICE}&scope=repository:x:pull`, {
      headers: { authorization: basic(user, password) },
    });

  test('the token for the entry names the account alice, whichever uid value was typed', async () => {
    const res = await request('alice.old', pw.alice);
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    expect(decodeJwt(token).sub).toBe('alice');
  });

  test('once alice is locked, her password is not tried under her other uid value', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < MAX_FAILURES; i++) statuses.push((await request('alice', `wrong-${i}`)).status);
    expect(statuses).toEqual(Array(MAX_FAILURES).fill(401));
    expect((await request('alice', pw.alice)).status).toBe(429);
    // The same entry, the same password, another spelling: must be held back as alİce is.
    expect((await request('alice.old', pw.alice)).status).toBe(429);
  });
});
