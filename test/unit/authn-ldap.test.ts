import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, test, vi } from 'vitest';
import { AndFilter, EqualityFilter, FilterParser } from 'ldapts';
import { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { connectOnce, handshakeWithin } from '../../src/authn/ldap/connection.js';
import { cnOf, escapeDnValue, rdnValue } from '../../src/authn/ldap/dn.js';
import { storedSpelling } from '../../src/authn/ldap/entry.js';
import { compileLdapConfig, ldapAuthSchema } from '../../src/authn/ldap/config.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { FakeDirectory, SERVICE_DN } from '../helpers/fake-ldap.js';

/** What a made-up account's bind goes to: a DN under the base that names no entry. */
const DECOY_DN = /^uid=regauth-decoy-[0-9a-f-]{36},dc=example,dc=org$/;
const SERVICE_PASSWORD = 'service-password';

function setUp(section: Record<string, unknown> = {}) {
  const dir = new FakeDirectory();
  dir.entries = [
    { dn: SERVICE_DN, password: SERVICE_PASSWORD, attrs: { uid: 'svc', objectClass: 'account' } },
    {
      dn: 'uid=alice,ou=people,dc=example,dc=org',
      password: 'alice-pw',
      attrs: {
        uid: 'alice',
        objectClass: 'inetOrgPerson',
        memberOf: [
          'CN=Dev Ops,OU=Groups,DC=example,DC=org',
          'cn=Admins\\2C Team,ou=groups,dc=example,dc=org',
        ],
        mail: 'alice@example.org',
      },
    },
    {
      dn: 'uid=bob,ou=people,dc=example,dc=org',
      password: 'bob-pw',
      attrs: { uid: 'bob', objectClass: 'inetOrgPerson' },
    },
    {
      dn: 'uid=locked,ou=people,dc=example,dc=org',
      password: 'locked-pw',
      attrs: { uid: 'locked', objectClass: 'inetOrgPerson', locked: 'yes' },
    },
    {
      dn: 'cn=devs,ou=groups,dc=example,dc=org',
      attrs: { cn: 'devs', objectClass: 'groupOfNames', member: 'uid=alice,ou=people,dc=example,dc=org' },
    },
  ];
  const raw = ldapAuthSchema.parse({
    addr: 'ldap.example.org:389',
    bind_dn: SERVICE_DN,
    bind_password_file: 'pw',
    base: 'dc=example,dc=org',
    filter: '(&(objectClass=inetOrgPerson)(uid=${account}))',
    labels: {
      groups: { attribute: 'memberOf', parse_cn: true, lower_case: true },
      mail: { attribute: 'MAIL' },
    },
    ...section,
  });
  const config = compileLdapConfig(raw, { at: (p) => p, readFile: () => `${SERVICE_PASSWORD}\n` });
  const authn = new LdapAuthenticator(config, dir.factory);
  const login = (account: string, password: string | undefined) =>
    authn.authenticate({ account, password: password === undefined ? undefined : new Secret(password) });
  return { dir, authn, login };
}

describe('LdapAuthenticator outcomes', () => {
  test('a user is authenticated with labels from the entry', async () => {
    const { login } = setUp();
    expect(await login('alice', 'alice-pw')).toEqual({
      outcome: 'authenticated',
      labels: { groups: ['dev ops', 'admins, team'], mail: ['alice@example.org'] },
    });
  });

  test.each([
    [
      'a wrong password (naming the account found, for the lockout)',
      'alice',
      'wrong',
      { outcome: 'denied', reason: 'invalid credentials', account: 'alice' },
    ],
    ['an empty password', 'alice', '', { outcome: 'denied', reason: 'empty password' }],
    ['no password', 'alice', undefined, { outcome: 'denied', reason: 'empty password' }],
    ['an unknown account', 'nobody', 'x', { outcome: 'no_match' }],
    ['the anonymous account', '', undefined, { outcome: 'no_match' }],
  ])('%s', async (_what, account, password, expected) => {
    const { login } = setUp();
    expect(await login(account, password)).toEqual(expected);
  });

  test('an empty password never reaches the directory', async () => {
    const { dir, login } = setUp();
    await login('alice', '');
    expect(dir.clients).toHaveLength(0);
  });

  test.each(['*', 'carol)(uid=*', '*)(objectClass=*', 'alice)(|(uid=*', 'ali*', 'alice\\', 'alice\0'])(
    'the injection attempt %j is escaped (RFC 4515) and finds nothing',
    async (account) => {
      const { dir, login } = setUp();
      expect(await login(account, 'alice-pw')).toEqual({ outcome: 'no_match' });
      // The filter keeps its shape: the account is one literal equality value, nothing more.
      const parsed = FilterParser.parseString(dir.searches[0]!.filter) as AndFilter;
      expect(parsed).toBeInstanceOf(AndFilter);
      expect(parsed.filters).toHaveLength(2);
      const uid = parsed.filters[1] as EqualityFilter;
      expect(uid).toBeInstanceOf(EqualityFilter);
      expect(uid.attribute).toBe('uid');
      expect(String(uid.value)).toBe(account);
      // Only the service account and the decoy DN (no entry) were bound: no user entry.
      expect(dir.binds.map((b) => b.dn)).toEqual([SERVICE_DN, expect.stringMatching(DECOY_DN)]);
      expect(dir.entries.map((e) => e.dn)).not.toContain(dir.binds[1]!.dn);
    },
  );

  test('a filter that matches several entries is a backend error, not a grant', async () => {
    const { login } = setUp({ filter: '(|(uid=${account})(objectClass=inetOrgPerson))' });
    await expect(login('alice', 'alice-pw')).rejects.toThrow(/more than one entry/);
    await expect(login('alice', 'alice-pw')).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  // A 503 for a locked entry, where a made-up name gets 401, would tell that the name exists.
  test('a bind the directory refuses for its own reason (an entry it holds locked) is a denial with that reason', async () => {
    const { login } = setUp();
    expect(await login('locked', 'locked-pw')).toEqual({
      outcome: 'denied',
      reason: expect.stringMatching(/^the directory refused the bind: account locked/),
      account: 'locked',
    });
  });

  test('a rejected service bind is a backend error naming the service bind, not a denial', async () => {
    const { dir, login } = setUp();
    dir.entries[0]!.password = 'changed';
    await expect(login('alice', 'alice-pw')).rejects.toThrow(/service bind \(bind_dn\) was rejected/);
  });

  test('the directory down is a backend error; the password never appears in it', async () => {
    const { dir, login } = setUp();
    dir.down = true;
    const err = await login('alice', 'alice-pw').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(String((err as Error).message)).not.toContain('alice-pw');
    expect(String((err as Error).message)).not.toContain(SERVICE_PASSWORD);
  });

  test('group search: the entry DN is escaped into the filter and the groups become a label', async () => {
    const { dir, login } = setUp({
      labels: {},
      group_search: {
        base: 'ou=groups,dc=example,dc=org',
        filter: '(&(objectClass=groupOfNames)(member=${dn}))',
      },
    });
    expect(await login('alice', 'alice-pw')).toEqual({
      outcome: 'authenticated',
      labels: { groups: ['devs'] },
    });
    expect(dir.searches[1]).toEqual({
      base: 'ou=groups,dc=example,dc=org',
      filter: '(&(objectClass=groupOfNames)(member=uid=alice,ou=people,dc=example,dc=org))',
      attributes: ['cn'],
    });
    expect(await login('bob', 'bob-pw')).toEqual({ outcome: 'authenticated', labels: { groups: [] } });
  });

  test('parse_cn keeps a value without a CN as it is (docker_auth)', async () => {
    const { dir, login } = setUp({ labels: { groups: { attribute: 'memberOf', parse_cn: true } } });
    dir.entries[2]!.attrs['memberOf'] = ['ou=Plain,dc=example,dc=org', 'CN=Ops,dc=example,dc=org'];
    expect(await login('bob', 'bob-pw')).toEqual({
      outcome: 'authenticated',
      labels: { groups: ['ou=Plain,dc=example,dc=org', 'Ops'] },
    });
  });

  test('without labels only the account attribute is asked for (to check its spelling)', async () => {
    const { dir, login } = setUp({ labels: {} });
    await login('bob', 'bob-pw');
    expect(dir.searches[0]!.attributes).toEqual(['uid']);
  });

  // (The real directory also ignores surrounding spaces: test/e2e/ldap.test.ts.)
  test.each(['ALICE', 'Alice', 'aLiCe'])(
    'the directory finds alice for %j: the login acts as "alice", the stored spelling',
    async (spelling) => {
      const { login, authn } = setUp();
      expect(await login(spelling, 'alice-pw')).toMatchObject({ outcome: 'authenticated', account: 'alice' });
      expect(await login(spelling, 'wrong')).toEqual({
        outcome: 'denied',
        reason: 'invalid credentials',
        account: 'alice',
      });
      // A lookup by another spelling says which one the entry holds (refresh tokens carry that one).
      expect(await authn.lookup!(spelling)).toEqual({ labels: {}, account: 'alice' });
      expect(await authn.lookup!('alice')).not.toHaveProperty('account');
      // Typed as stored: no `account` in the answer (nothing to rename).
      expect(await login('alice', 'alice-pw')).not.toHaveProperty('account');
    },
  );

  test('several account terms: the first one the entry holds names the account, whichever was typed', async () => {
    const { login } = setUp({ filter: '(&(objectClass=inetOrgPerson)(|(uid=${account})(mail=${account})))' });
    expect(await login('alice', 'alice-pw')).not.toHaveProperty('account');
    expect(await login('alice@example.org', 'alice-pw')).toMatchObject({
      outcome: 'authenticated',
      account: 'alice',
    });
    expect(await login('ALICE@example.org', 'alice-pw')).toMatchObject({
      outcome: 'authenticated',
      account: 'alice',
    });
  });

  test("an account holding $' or $` is text in the filter, never a replacement pattern", async () => {
    const { dir, login } = setUp();
    for (const account of ["$'", '$`', '$&', "x$'y"]) {
      expect(await login(account, 'pw')).toEqual({ outcome: 'no_match' });
      // The entry's search (the labels' read after it, the decoy's, names no account).
      expect(dir.searches.at(-2)!.filter).toBe(`(&(objectClass=inetOrgPerson)(uid=${account}))`);
    }
  });

  test('an account term with text around ${account} (mail=${account}@…): the stored spelling is cut out of it', async () => {
    const { dir, login } = setUp({ filter: '(&(objectClass=inetOrgPerson)(mail=${account}@example.org))' });
    dir.entries[1]!.attrs['mail'] = 'Alice@Example.org';
    expect(await login('alice', 'alice-pw')).toMatchObject({ outcome: 'authenticated', account: 'Alice' });
    expect(await login('Alice', 'alice-pw')).not.toHaveProperty('account');
  });
});

describe('LdapAuthenticator connections', () => {
  test('the service connection is reused; each user bind gets its own connection, closed after', async () => {
    const { dir, login } = setUp();
    await login('alice', 'alice-pw');
    await login('bob', 'bob-pw');
    await login('alice', 'wrong');
    // one service connection + one per user bind
    expect(dir.clients).toHaveLength(4);
    expect(dir.binds.filter((b) => b.dn === SERVICE_DN)).toHaveLength(1);
    expect(dir.clients.slice(1).every((c) => c.unbound)).toBe(true);
    expect(dir.clients[0]!.unbound).toBe(false);
  });

  test('after the directory closed the service connection, a new one is bound', async () => {
    const { dir, login } = setUp();
    await login('alice', 'alice-pw');
    dir.clients[0]!.isConnected = false;
    expect((await login('alice', 'alice-pw')).outcome).toBe('authenticated');
    expect(dir.binds.filter((b) => b.dn === SERVICE_DN)).toHaveLength(2);
  });

  test('a reused connection that fails below LDAP is replaced and the request retried once', async () => {
    const { dir, login } = setUp();
    await login('alice', 'alice-pw');
    dir.breakConnections = true;
    expect((await login('alice', 'alice-pw')).outcome).toBe('authenticated');
  });

  test('down, then up again: works without a restart', async () => {
    const { dir, login } = setUp();
    await login('alice', 'alice-pw');
    dir.down = true;
    dir.clients[0]!.isConnected = false;
    await expect(login('alice', 'alice-pw')).rejects.toBeInstanceOf(BackendUnavailableError);
    dir.down = false;
    expect((await login('alice', 'alice-pw')).outcome).toBe('authenticated');
  });

  test.each([
    ['none', 'ldap://ldap.example.org:389', false],
    ['always', 'ldaps://ldap.example.org:389', false],
    ['starttls', 'ldap://ldap.example.org:389', true],
  ] as const)('tls: %s connects to %s (StartTLS: %s)', async (tls, url, upgraded) => {
    const { dir, login } = setUp({ tls });
    await login('alice', 'alice-pw');
    expect(dir.clients[0]!.options.url).toBe(url);
    expect(dir.clients.every((c) => c.tlsUpgraded === upgraded)).toBe(true);
    expect(dir.clients[0]!.options.connectTimeout).toBe(5000);
    expect(dir.clients[0]!.options.timeout).toBe(5000);
  });

  test('with StartTLS a lost connection is never reopened in clear text', async () => {
    const { dir, login } = setUp({ tls: 'starttls' });
    await login('alice', 'alice-pw');
    expect(dir.clients.every((c) => c.options.createConnection !== undefined)).toBe(true);
    const opened: string[] = [];
    const once = connectOnce((port: number, host: string) => opened.push(`${host}:${port}`));
    once(389, 'ldap.example.org');
    expect(() => once(389, 'ldap.example.org')).toThrow(/not reconnecting in clear text/);
    expect(opened).toEqual(['ldap.example.org:389']);
  });

  test('at most max_concurrency requests talk to the directory; waiters give up with a backend error', async () => {
    const { dir, login } = setUp({ max_concurrency: 1, operation_timeout: 1 });
    let release!: () => void;
    dir.searchDelay = new Promise((r) => (release = r));
    const first = login('alice', 'alice-pw');
    const second = login('bob', 'bob-pw');
    await expect(second).rejects.toThrow(/too many concurrent/);
    release();
    expect((await first).outcome).toBe('authenticated');
  });

  test('a directory that never answers is a backend error after twice operation_timeout', async () => {
    const { dir, login } = setUp({ operation_timeout: 1 });
    dir.searchDelay = new Promise(() => undefined);
    await expect(login('alice', 'alice-pw')).rejects.toThrow(/no answer within 2 s/);
  });

  test('close releases the service connection; later requests fail closed', async () => {
    const { dir, authn, login } = setUp();
    await login('alice', 'alice-pw');
    await authn.close();
    expect(dir.clients[0]!.unbound).toBe(true);
    await expect(login('alice', 'alice-pw')).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  test('a login under way when the backend closes leaves no service connection open', async () => {
    // Found by a review of ldap_auth: its group search, after the user's bind, opened a new
    // service connection once close had unbound the old one, and nothing closed that one.
    const { dir, authn, login } = setUp({
      labels: {},
      group_search: { base: 'ou=groups,dc=example,dc=org', filter: '(member=${dn})' },
    });
    let release!: () => void;
    dir.userBindDelay = new Promise((r) => (release = r));
    const running = login('alice', 'alice-pw');
    await vi.waitFor(() => expect(dir.binds.some((b) => b.dn.startsWith('uid=alice,'))).toBe(true));
    await authn.close();
    release();
    expect(await running).toEqual({ outcome: 'authenticated', labels: { groups: ['devs'] } });
    expect(dir.clients.filter((c) => c.isConnected).map((c) => c.id)).toEqual([]);
  });
});

describe('a made-up name costs the directory work of a wrong password', () => {
  /** The directory operations one login made: searches, binds other than the service's, connections. */
  async function work(account: string) {
    const { dir, login } = setUp();
    await login('bob', 'bob-pw'); // the service connection is open and bound
    const [searches, binds, clients] = [dir.searches.length, dir.binds.length, dir.clients.length];
    const result = await login(account, 'wrong');
    return {
      result: result.outcome,
      searches: dir.searches.length - searches,
      userBinds: dir.binds.slice(binds).filter((b) => b.dn !== SERVICE_DN).length,
      connections: dir.clients.length - clients,
    };
  }

  test('the same searches, one refused bind on a fresh connection, for both', async () => {
    const known = await work('alice');
    const unknown = await work('nobody');
    expect(known.result).toBe('denied');
    expect(unknown.result).toBe('no_match');
    const shape = (w: typeof known) => ({ ...w, result: undefined });
    expect(shape(unknown)).toEqual(shape(known));
    // The entry's search, then the read of the labels a right password makes, for the decoy.
    expect(shape(known)).toEqual({ result: undefined, searches: 2, userBinds: 1, connections: 1 });
  });

  test('the search before the bind asks for no label attribute; the labels are read after it', async () => {
    // Found by a review of ldap_auth: the entry's search asked for every label attribute, so a
    // known entry's labels (an AD user's thousands of memberOf values) crossed the wire on every
    // wrong password, and a made-up name's search brought nothing: the time told who exists.
    const { dir, login } = setUp();
    await login('alice', 'wrong');
    const [search, read] = dir.searches;
    expect(search!.filter).toBe('(&(objectClass=inetOrgPerson)(uid=alice))');
    expect(search!.attributes).toEqual(['uid']);
    expect(read!.base).toMatch(DECOY_DN);
    expect(await login('alice', 'alice-pw')).toMatchObject({ outcome: 'authenticated' });
    const labelsRead = dir.searches.at(-1)!;
    expect(labelsRead.base).toBe('uid=alice,ou=people,dc=example,dc=org');
    expect(labelsRead.attributes).toEqual(['memberOf', 'MAIL']);
  });

  test('decoy() does that work for a login an earlier backend denied, and never throws', async () => {
    const { dir, authn } = setUp();
    await expect(authn.decoy({ account: 'admin', password: new Secret('wrong') })).resolves.toBeUndefined();
    expect(dir.searches).toHaveLength(2);
    expect(dir.binds.map((b) => b.dn)).toEqual([SERVICE_DN, expect.stringMatching(DECOY_DN)]);
    dir.down = true;
    dir.clients[0]!.isConnected = false;
    // The directory's outage, which a made-up name would have met, is given back (the chain
    // answers the denial as that outage).
    await expect(authn.decoy({ account: 'admin', password: new Secret('wrong') })).resolves.toBeInstanceOf(
      BackendUnavailableError,
    );
  });
});

describe('LdapAuthenticator lookup and check', () => {
  test('lookup returns current labels, or undefined when the entry is gone', async () => {
    const { dir, authn } = setUp();
    expect(await authn.lookup!('alice')).toEqual({
      labels: { groups: ['dev ops', 'admins, team'], mail: ['alice@example.org'] },
    });
    dir.entries = dir.entries.filter((e) => !e.dn.startsWith('uid=alice,'));
    expect(await authn.lookup!('alice')).toBeUndefined();
    expect(await authn.lookup!('')).toBeUndefined();
  });

  test('lookup is absent with initial_bind_as_user (no service account to look with)', () => {
    const { authn } = setUp({
      initial_bind_as_user: true,
      bind_dn: 'uid=${account},ou=people,dc=example,dc=org',
      bind_password_file: undefined,
    });
    expect(authn.lookup).toBeUndefined();
  });

  test('check resolves when the service bind works and throws when the directory is down', async () => {
    const { dir, authn } = setUp();
    await expect(authn.check()).resolves.toBeUndefined();
    dir.down = true;
    dir.clients[0]!.isConnected = false;
    await expect(authn.check()).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  test('check does not queue behind logins that hold every max_concurrency slot', async () => {
    const { dir, authn, login } = setUp({ max_concurrency: 2, operation_timeout: 5 });
    let release!: () => void;
    dir.userBindDelay = new Promise((r) => (release = r));
    const logins = [login('alice', 'alice-pw'), login('bob', 'bob-pw'), login('alice', 'alice-pw')];
    await new Promise((r) => setTimeout(r, 20));
    const started = performance.now();
    await expect(authn.check()).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1_000);
    release();
    expect((await Promise.all(logins)).map((r) => r.outcome)).toEqual([
      'authenticated',
      'authenticated',
      'authenticated',
    ]);
  });
});

describe('initial_bind_as_user', () => {
  const section = {
    initial_bind_as_user: true,
    bind_dn: 'uid=${account},ou=people,dc=example,dc=org',
    bind_password_file: undefined,
  };

  test('binds as the user, searches, binds as the entry', async () => {
    const { dir, login } = setUp(section);
    expect((await login('alice', 'alice-pw')).outcome).toBe('authenticated');
    expect(dir.binds.map((b) => b.dn)).toEqual([
      'uid=alice,ou=people,dc=example,dc=org',
      'uid=alice,ou=people,dc=example,dc=org',
    ]);
    expect(dir.clients).toHaveLength(1);
  });

  test.each(['svc,ou=services', 'a+b', 'x=y', ' lead', '#hash'])(
    'the account %j is escaped (RFC 4514) in the bind DN',
    async (account) => {
      const { dir, login } = setUp(section);
      expect(await login(account, SERVICE_PASSWORD)).toEqual({
        outcome: 'denied',
        reason: 'invalid credentials',
      });
      expect(dir.binds[0]!.dn).toBe(`uid=${escapeDnValue(account)},ou=people,dc=example,dc=org`);
      expect(dir.binds[0]!.dn).not.toBe(SERVICE_DN);
    },
  );
});

describe('escaping and parsing', () => {
  test.each([
    ['alice', 'alice'],
    ['a,b', 'a\\,b'],
    ['a+b=c', 'a\\+b\\=c'],
    ['"<x>;\\', '\\"\\<x\\>\\;\\\\'],
    ['#x', '\\#x'],
    [' x ', '\\ x\\ '],
    ['x#', 'x#'],
    ['a\0b', 'a\\00b'],
    ['ü', 'ü'],
  ])('escapeDnValue(%j) = %j', (input, expected) => {
    expect(escapeDnValue(input)).toBe(expected);
  });

  test.each([
    ['CN=Dev Ops,OU=Groups,DC=example,DC=org', 'Dev Ops'],
    ['cn=devs,ou=groups,dc=example,dc=org', 'devs'],
    ['cn=Admins\\2C Team,ou=groups', 'Admins, Team'],
    ['cn=a\\,b,ou=x', 'a,b'],
    ['ou=x,cn=inner,dc=y', 'inner'],
    ['uid=alice,ou=people', undefined],
    ['devs', undefined],
  ])('cnOf(%j) = %j', (dn, cn) => {
    expect(cnOf(dn)).toBe(cn);
  });
});

// Labels were gathered in a plain object: a label named `constructor` found Object's own and
// every login of the directory failed with a TypeError (a 500), one named `toString` likewise.
test('labels named constructor or toString are labels like any other', async () => {
  const { entryLabels } = await import('../../src/authn/ldap/entry.js');
  const source = { parseCn: false, lowerCase: false };
  const labels = entryLabels(
    {
      labels: new Map([
        ['constructor', { ...source, attribute: 'ou' }],
        ['toString', { ...source, attribute: 'cn' }],
      ]),
      groupSearch: undefined,
    },
    { dn: 'uid=alice,dc=x', ou: ['dev'], cn: 'Alice' },
    [],
  );
  expect(Object.entries(labels)).toEqual([
    ['constructor', ['dev']],
    ['toString', ['Alice']],
  ]);
});

describe('the one name of an entry (storedSpelling)', () => {
  const uid = [{ attribute: 'uid', template: '${account}' }];
  const mail = [{ attribute: 'mail', template: '${account}@example.org' }];

  test('one value: that value, however the login spelled it', () => {
    expect(storedSpelling(uid, { dn: 'uid=alice,ou=people', uid: 'alice' })).toBe('alice');
    expect(storedSpelling(mail, { dn: 'uid=alice,ou=people', mail: 'Alice@Example.org' })).toBe('Alice');
  });

  test('several values: the one the DN names, else the least, whichever was typed', () => {
    // Found by a review: the value matching what was typed won, so each alias was an account.
    expect(storedSpelling(uid, { dn: 'uid=alice,ou=people', uid: ['alice.old', 'alice'] })).toBe('alice');
    expect(storedSpelling(uid, { dn: 'cn=A+uid=Alice,ou=people', uid: ['alice.old', 'alice'] })).toBe(
      'alice',
    );
    const aliases = { dn: 'uid=x,ou=people', mail: ['smith@example.org', 'alice@example.org'] };
    expect(storedSpelling(mail, aliases)).toBe('alice');
  });

  test("rdnValue reads the entry's own RDN only", () => {
    expect(rdnValue('uid=alice,ou=people,dc=x', 'UID')).toBe('alice');
    expect(rdnValue('cn=A\\, B+uid=bob,ou=people', 'uid')).toBe('bob');
    expect(rdnValue('cn=A\\, B+uid=bob,ou=people', 'cn')).toBe('A, B');
    expect(rdnValue('cn=alice,uid=bob,ou=people', 'uid')).toBeUndefined();
  });
});

describe('the StartTLS handshake bound (handshakeWithin)', () => {
  test('a handshake that fails leaves no timer behind, though ldapts drops every listener on error', async () => {
    // A peer that is no TLS server: it answers the ClientHello with plain text and hangs up.
    const server = createServer((socket) => socket.end('not TLS\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // The bound's own timer, told apart from any other the process has running meanwhile (the
    // count of every active timer changed under a loaded machine as other timers ended).
    const set = vi.spyOn(globalThis, 'setTimeout');
    const cleared = vi.spyOn(globalThis, 'clearTimeout');
    try {
      const socket = handshakeWithin(60_000)({ host: '127.0.0.1', port, rejectUnauthorized: false });
      const bound = set.mock.results[set.mock.calls.findIndex((call) => call[1] === 60_000)]
        ?.value as unknown;
      expect(bound).toBeDefined();
      // What ldapts' startTLS does: on 'error' it removes every listener of the socket, ours too.
      const failed = new Promise<Error>((resolve) =>
        socket.once('error', (err) => {
          socket.removeAllListeners();
          resolve(err);
        }),
      );
      expect((await failed).message).not.toBe('');
      await new Promise((resolve) => setImmediate(resolve));
      expect(socket.destroyed).toBe(true);
      // The 60 s timer would otherwise hold the process and the failed socket for a minute.
      expect(cleared).toHaveBeenCalledWith(bound);
    } finally {
      set.mockRestore();
      cleared.mockRestore();
      server.close();
    }
  });
});
