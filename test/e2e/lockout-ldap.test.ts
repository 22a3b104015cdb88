import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { basic, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startSlapd, type Slapd } from './harness/slapd.js';
import { SERVICE, startRegauth, type RegauthStack } from './harness/stack.js';

/**
 * The lockout against a real OpenLDAP: the directory matches other spellings of an account
 * (`alİce` with U+0130, `ALICE`, and with a mail term `alice@example.org`) to alice's entry, so
 * none of them may get a count of its own.
 */

const SUFFIX = 'dc=example,dc=org';
const MAX_FAILURES = 3;

describe('lockout with ldap_auth against a real slapd', () => {
  const tmp = tempDir('regauth-lockout-ldap-e2e-');
  const pw = { alice: randomPassword(), bob: randomPassword(), svc: randomPassword() };
  let slapd: Slapd;
  let s: RegauthStack;

  beforeAll(async () => {
    const person = (uid: 'alice' | 'bob' | 'svc', ou = 'people') =>
      `dn: uid=${uid},ou=${ou},${SUFFIX}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\n` +
      `mail: ${uid}@example.org\nuserPassword: ${pw[uid]}\n`;
    slapd = await startSlapd({
      dir: join(tmp.dir, 'slapd'),
      ldif: [
        `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
        `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services\n`,
        person('alice'),
        person('bob'),
        person('svc', 'services'),
      ].join('\n'),
    });
    writeFileSync(join(tmp.dir, 'bind-password'), `${pw.svc}\n`, { mode: 0o600 });
    s = await startRegauth({
      name: 'lockout-ldap',
      tmp,
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
    await slapd?.stop();
    tmp.cleanup();
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
