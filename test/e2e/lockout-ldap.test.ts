import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { basic, randomPassword } from '../helpers/fixtures.js';
import { useSlapd } from './harness/directory.js';
import { SERVICE, startRegauth, type RegauthStack } from './harness/stack.js';

/**
 * The lockout against a real OpenLDAP: the directory matches other spellings of an account
 * (`alİce` with U+0130, `ALICE`, and with a mail term `alice@example.org`) to alice's entry, so
 * none of them may get a count of its own.
 */

const SUFFIX = 'dc=example,dc=org';
const MAX_FAILURES = 3;

describe('lockout with ldap_auth against a real slapd', () => {
  const pw = { alice: randomPassword(), bob: randomPassword(), svc: randomPassword() };
  const person = (uid: 'alice' | 'bob' | 'svc', ou = 'people') =>
    `dn: uid=${uid},ou=${ou},${SUFFIX}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\n` +
    `mail: ${uid}@example.org\nuserPassword: ${pw[uid]}\n`;
  const directory = useSlapd({
    tmpPrefix: 'regauth-lockout-ldap-e2e-',
    bindPassword: pw.svc,
    ldif: [
      `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
      `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services\n`,
      person('alice'),
      person('bob'),
      person('svc', 'services'),
    ].join('\n'),
  });
  let s: RegauthStack;

  beforeAll(async () => {
    const slapd = directory.slapd;
    s = await startRegauth({
      name: 'lockout-ldap',
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
  filter: "(&(objectClass=inetOrgPerson)(|(uid=\${account})(mail=\${account})))"
acl:
  - match: {}
    actions: [pull]
`,
    });
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
  });

  const login = async (user: string, password: string) =>
    (
      await fetch(`${s.regauth.url}/auth?service=${SERVICE}&scope=repository:x:pull`, {
        headers: { authorization: basic(user, password) },
      })
    ).status;

  test('the directory takes alİce (U+0130) for alice: once alice is locked, alİce is refused too', async () => {
    // The directory does match the spelling: it is a way to alice's password.
    expect(await login('al\u0130ce', pw.alice)).toBe(200);

    const statuses: number[] = [];
    for (let i = 0; i < MAX_FAILURES; i++) statuses.push(await login('alice', `wrong-${i}`));
    expect(statuses).toEqual(Array(MAX_FAILURES).fill(401));
    expect(await login('alice', pw.alice)).toBe(429);
    expect(await login('al\u0130ce', pw.alice)).toBe(429);
    expect(await login('AL\u0130CE', 'wrong')).toBe(429);
    expect(await login('ＡＬ\u0130ＣＥ', pw.alice)).toBe(429);
  });

  test('a spelling no fold can know (the mail term) counts on, and is refused for, the stored account', async () => {
    // bob's failures typed as his mail address count on bob.
    const statuses: number[] = [];
    for (let i = 0; i < MAX_FAILURES; i++) statuses.push(await login('bob@example.org', `wrong-${i}`));
    expect(statuses).toEqual(Array(MAX_FAILURES).fill(401));
    expect(await login('bob', pw.bob)).toBe(429);
    // alice is locked (above): her mail address with the right password does not get in either.
    expect(await login('alice@example.org', pw.alice)).toBe(429);
  });
});
