import { decodeJwt } from 'jose';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { buildOciImage } from './harness/oci.js';
import { useSlapd } from './harness/directory.js';
import { createTestCa, startSlapd, type Slapd } from './harness/slapd.js';
import { push } from './harness/skopeo.js';
import { SERVICE, startStack, type Stack } from './harness/stack.js';

const SUFFIX = 'dc=example,dc=org';

type DirectoryUser = 'alice' | 'bob' | 'carol' | 'svc';

/** People (alice in devs, bob in ops, carol in no group), a service account, and two groups. */
function directoryLdif(pw: Record<DirectoryUser, string>): string {
  const person = (uid: string, ou = 'people') =>
    `dn: uid=${uid},ou=${ou},${SUFFIX}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\n` +
    `mail: ${uid}@example.org\nuserPassword: ${pw[uid as DirectoryUser]}\n`;
  const group = (cn: string, members: string[]) =>
    `dn: cn=${cn},ou=groups,${SUFFIX}\nobjectClass: groupOfNames\ncn: ${cn}\n` +
    members.map((m) => `member: uid=${m},ou=people,${SUFFIX}\n`).join('');
  return [
    `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services\n`,
    `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n`,
    person('alice'),
    person('bob'),
    person('carol'),
    person('svc', 'services'),
    group('devs', ['alice']),
    group('ops', ['bob', 'alice']),
  ].join('\n');
}

type Setup = Stack & { slapd: Slapd; pw: Record<DirectoryUser | 'admin', string> };

async function setUp(): Promise<Setup> {
  const tmp = tempDir('regauth-ldap-e2e-');
  const pw = {
    alice: randomPassword(),
    bob: randomPassword(),
    carol: randomPassword(),
    svc: randomPassword(),
    admin: randomPassword(),
  };
  const slapd = await startSlapd({ dir: join(tmp.dir, 'slapd'), ldif: directoryLdif(pw), tls: true });
  writeFileSync(join(tmp.dir, 'bind-password'), `${pw.svc}\n`, { mode: 0o600 });
  const stack = await startStack({
    name: 'ldap',
    tmp,
    config: `users:
  admin:
    password: "${hash(pw.admin)}"
    labels: {groups: [admins]}
# This suite fails logins on purpose, many times; lockout has its own tests (ops).
lockout:
  enabled: false
# Every login must reach the directory here (outage tests); the credential cache has its own tests.
credential_cache:
  ttl: 0
ldap_auth:
  addr: "127.0.0.1:${slapd.port}"
  tls: starttls
  ca_certificate: ${slapd.ca!.caPath}
  bind_dn: "uid=svc,ou=services,${SUFFIX}"
  bind_password_file: bind-password
  base: "ou=people,${SUFFIX}"
  filter: "(&(objectClass=inetOrgPerson)(uid=\${account}))"
  labels:
    mail: {attribute: mail}
  group_search:
    base: "ou=groups,${SUFFIX}"
    filter: "(&(objectClass=groupOfNames)(member=\${dn}))"
    attribute: cn
    label: groups
  connect_timeout: 2
  operation_timeout: 3
acl:
  - match: {labels: {groups: admins}}
    actions: ["*"]
  - match: {name: "\${labels:groups}/*"}
    actions: ["*"]
    comment: a group's namespace
`,
  });
  return { ...stack, slapd, pw };
}

async function tokenRequest(s: Setup, user: string, password: string, scope: string): Promise<Response> {
  return fetch(`${s.regauth.url}/auth?service=${SERVICE}&scope=${encodeURIComponent(scope)}`, {
    headers: { authorization: basic(user, password) },
  });
}

/** The actions a token grants, read from its (unverified) payload. */
async function grantedActions(res: Response): Promise<string[]> {
  const { token } = (await res.json()) as { token: string };
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
    access: { actions: string[] }[];
  };
  return payload.access.flatMap((a) => a.actions);
}

describe('ldap_auth against a real slapd (StartTLS, group search), docker-registry and skopeo', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp();
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
    await s?.slapd.stop();
    s?.tmp.cleanup();
  });

  test('a group member pushes to the group namespace; a non-member cannot', async () => {
    const image = await buildOciImage(join(s.tmp.dir, 'img-devs'), 'v1');
    const pushed = await push(image.ref, s.registry.host, 'devs/app', 'v1', {
      user: 'alice',
      password: s.pw.alice,
    });
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);

    const denied = await push(image.ref, s.registry.host, 'devs/app', 'v2', {
      user: 'bob',
      password: s.pw.bob,
    });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/denied|unauthorized|authentication required/i);
    // bob's own group works, so the denial above is about the group, not about bob.
    expect(
      (await push(image.ref, s.registry.host, 'ops/app', 'v1', { user: 'bob', password: s.pw.bob })).code,
    ).toBe(0);
  });

  test.each([
    ['a wrong password', 'alice', 'not-the-password'],
    ['an empty password', 'alice', ''],
    ['another user’s password', 'alice', 'BOB'],
  ])('%s is 401', async (_name, user, password) => {
    const res = await tokenRequest(
      s,
      user,
      password === 'BOB' ? s.pw.bob : password,
      'repository:devs/app:pull',
    );
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  test.each(['*', 'carol)(uid=*', '*)(objectClass=*', 'alice)(|(uid=*', 'ali*', 'alice\\'])(
    'the injection attempt %j is 401 with any password and never reaches a grant',
    async (account) => {
      for (const password of [s.pw.alice, s.pw.carol, s.pw.svc, '*', '']) {
        const res = await tokenRequest(s, account, password, 'repository:devs/app:pull,push');
        expect(res.status).toBe(401);
        expect(await res.text()).not.toContain('token');
      }
    },
  );

  test.each([' alice', 'alice ', '  aLiCe  ', 'alice\u0085', 'alice\u00a0'])(
    'the spelling %j, which slapd would match to alice, is refused with 400 before any backend',
    async (spelling) => {
      const res = await tokenRequest(s, spelling, s.pw.alice, 'repository:devs/app:pull');
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        errors: [{ code: 'BAD_REQUEST', message: 'invalid account name' }],
      });
    },
  );

  test.each(['ALICE', 'Alice', 'aLiCe'])(
    'slapd finds alice for %j: the token, the ACL and the audit line name "alice", the stored spelling',
    async (spelling) => {
      const res = await tokenRequest(s, spelling, s.pw.alice, 'repository:devs/app:pull');
      expect(res.status).toBe(200);
      const { token } = (await res.json()) as { token: string };
      expect(decodeJwt(token).sub).toBe('alice');
      const line = s.logs
        .join('')
        .split('\n')
        .filter((l) => l.includes('"typedAccount"'))
        .map((l) => JSON.parse(l) as { account?: string; typedAccount?: string })
        .find((r) => r.typedAccount === spelling);
      expect(line?.account).toBe('alice');
      // A wrong password under that spelling is still a wrong password.
      expect((await tokenRequest(s, spelling, 'wrong', 'repository:devs/app:pull')).status).toBe(401);
    },
  );

  test('labels from the entry and the group search reach the ACL', async () => {
    const res = await tokenRequest(s, 'alice', s.pw.alice, 'repository:ops/tool:pull,push');
    expect(res.status).toBe(200);
    expect((await grantedActions(res)).sort()).toEqual(['pull', 'push']);
    const carol = await tokenRequest(s, 'carol', s.pw.carol, 'repository:ops/tool:pull,push');
    expect(carol.status).toBe(200);
    expect(await grantedActions(carol)).toEqual([]);
  });

  test('directory down: directory users get 503, static users still get tokens; back up: works again', async () => {
    await s.slapd.stop();
    try {
      const down = await tokenRequest(s, 'alice', s.pw.alice, 'repository:devs/app:pull');
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await down.json()).toEqual({
        errors: [{ code: 'UNAVAILABLE', message: expect.any(String) }],
      });
      // The log says why (the client only learns "retry later").
      const refused = s.logs
        .join('')
        .split('\n')
        .filter((line) => line.includes('"status":503'))
        .map((line) => JSON.parse(line) as { reason?: string });
      expect(refused.some((r) => /^ldap_auth: .*ECONNREFUSED/.test(r.reason ?? ''))).toBe(true);
      const admin = await tokenRequest(s, 'admin', s.pw.admin, 'repository:devs/app:pull');
      expect(admin.status).toBe(200);
    } finally {
      await s.slapd.start();
    }
    const up = await tokenRequest(s, 'alice', s.pw.alice, 'repository:devs/app:pull');
    expect(up.status).toBe(200);
    expect(await grantedActions(up)).toEqual(['pull']);
  });

  test('a directory that hangs is a 503 after the timeouts, and answers again once it resumes', async () => {
    s.slapd.pause();
    try {
      const hung = await tokenRequest(s, 'alice', s.pw.alice, 'repository:devs/app:pull');
      // On a surprise, show what answered: the reply and the directory's own output.
      expect(hung.status, `${await hung.clone().text()}\n--- slapd ---\n${s.slapd.logs()}`).toBe(503);
      expect((await tokenRequest(s, 'admin', s.pw.admin, 'repository:devs/app:pull')).status).toBe(200);
    } finally {
      s.slapd.resume();
    }
    const up = await tokenRequest(s, 'alice', s.pw.alice, 'repository:devs/app:pull');
    expect(up.status).toBe(200);
  });

  test('no directory password appears in the logs', () => {
    const all = s.logs.join('');
    expect(all).toContain('token issued');
    for (const p of Object.values(s.pw)) expect(all).not.toContain(p);
  });
});

describe('LdapAuthenticator against a real slapd: LDAPS, memberOf, lookup, readiness', () => {
  const pw = {
    alice: randomPassword(),
    bob: randomPassword(),
    carol: randomPassword(),
    svc: randomPassword(),
  };
  const directory = useSlapd({
    tmpPrefix: 'regauth-ldap-direct-',
    bindPassword: pw.svc,
    ldif: directoryLdif(pw),
    tls: true,
    memberOf: true,
  });
  const { tmp } = directory;

  /** An authenticator from a raw `ldap_auth` section, as the config loader would build it. */
  const make = (section: Record<string, unknown>): LdapAuthenticator => directory.authenticator(section);

  const activeDirectoryLike = () => ({
    addr: `127.0.0.1:${directory.slapd.ldapsPort}`,
    tls: 'always',
    ca_certificate: directory.slapd.ca!.caPath,
    bind_dn: `uid=svc,ou=services,${SUFFIX}`,
    bind_password_file: 'bind-password',
    base: SUFFIX,
    filter: '(&(objectClass=inetOrgPerson)(uid=${account}))',
    labels: { groups: { attribute: 'memberOf', parse_cn: true, lower_case: true } },
  });

  test('LDAPS with the test CA; memberOf parsed to group names', async () => {
    const a = make(activeDirectoryLike());
    await expect(a.check()).resolves.toBeUndefined();
    const result = await a.authenticate({ account: 'alice', password: new Secret(pw.alice) });
    expect(result.outcome).toBe('authenticated');
    expect(result.outcome === 'authenticated' && [...(result.labels['groups'] ?? [])].sort()).toEqual([
      'devs',
      'ops',
    ]);
    expect(await a.authenticate({ account: 'alice', password: new Secret(pw.bob) })).toEqual({
      outcome: 'denied',
      reason: 'invalid credentials',
      account: 'alice',
    });
    expect(await a.authenticate({ account: 'nobody', password: new Secret(pw.bob) })).toEqual({
      outcome: 'no_match',
    });
  });

  test('a certificate from another CA is refused: 503, never a grant', async () => {
    const other = await createTestCa(join(tmp.dir, 'other-ca'));
    const a = make({ ...activeDirectoryLike(), ca_certificate: other.caPath });
    await expect(a.authenticate({ account: 'alice', password: new Secret(pw.alice) })).rejects.toBeInstanceOf(
      BackendUnavailableError,
    );
    await expect(a.check()).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  test('a wrong service password is a 503 (operator error), not a denial of the user', async () => {
    writeFileSync(join(tmp.dir, 'wrong-bind-password'), 'wrong');
    const a = make({ ...activeDirectoryLike(), bind_password_file: 'wrong-bind-password' });
    await expect(a.authenticate({ account: 'alice', password: new Secret(pw.alice) })).rejects.toThrow(
      /service bind/,
    );
  });

  test('lookup for refresh tokens: current labels, or undefined once the entry is gone', async () => {
    const a = make(activeDirectoryLike());
    expect(await a.lookup!('bob')).toEqual({ labels: { groups: ['ops'] } });
    expect(await a.lookup!('nobody')).toBeUndefined();
    expect(await a.lookup!('*')).toBeUndefined();
  });

  test('a filter matching several entries is an error, never a grant', async () => {
    const a = make({ ...activeDirectoryLike(), filter: '(|(uid=${account})(objectClass=inetOrgPerson))' });
    await expect(a.authenticate({ account: 'alice', password: new Secret(pw.alice) })).rejects.toThrow(
      /more than one entry/,
    );
  });

  test('initial_bind_as_user with StartTLS: the account is escaped in the bind DN', async () => {
    const a = make({
      addr: `127.0.0.1:${directory.slapd.port}`,
      tls: 'starttls',
      ca_certificate: directory.slapd.ca!.caPath,
      initial_bind_as_user: true,
      bind_dn: `uid=\${account},ou=people,${SUFFIX}`,
      base: `ou=people,${SUFFIX}`,
      filter: '(uid=${account})',
      labels: { mail: { attribute: 'mail' } },
    });
    expect(a.lookup).toBeUndefined();
    expect(await a.authenticate({ account: 'carol', password: new Secret(pw.carol) })).toEqual({
      outcome: 'authenticated',
      labels: { mail: ['carol@example.org'] },
    });
    for (const account of [`svc,ou=services,${SUFFIX}`, 'carol,ou=people', '*']) {
      const result = await a.authenticate({ account, password: new Secret(pw.svc) });
      expect(result.outcome).toBe('denied');
    }
  });
});
