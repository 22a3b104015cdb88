import { inspect } from 'node:util';
import { describe, expect, test, vi } from 'vitest';
import {
  CachedAuthenticator,
  CredentialCache,
  sharedCredentialCache,
  staticEntryVersion,
} from '../../src/authn/cache.js';
import { authenticate } from '../../src/authn/chain.js';
import type { Authenticator, AuthnResult, Credentials } from '../../src/authn/types.js';
import type { StaticUser } from '../../src/authn/users.js';
import { configSchema } from '../../src/config/schema.js';
import { Secret } from '../../src/core/secret.js';

/** A backend that accepts `password` for every account and counts how often it is asked. */
function backend(password: string, labels = { group: ['dev'] }) {
  const calls: string[] = [];
  const authenticator: Authenticator = {
    name: 'fake',
    async authenticate({ account, password: given }: Credentials): Promise<AuthnResult> {
      calls.push(account);
      return given?.reveal() === password
        ? { outcome: 'authenticated', labels, fingerprint: `fp-${account}` }
        : { outcome: 'denied', reason: 'wrong password' };
    },
  };
  return { authenticator, calls };
}

const creds = (account: string, password: string | undefined): Credentials => ({
  account,
  password: password === undefined ? undefined : new Secret(password),
});

/** A directory that finds alice for any spelling given the password `dir-pw`. */
function directoryFindingAlice(): Authenticator {
  return {
    name: 'ldap_auth',
    async authenticate(c) {
      return c.password?.reveal() === 'dir-pw'
        ? { outcome: 'authenticated', labels: {}, account: 'alice' }
        : { outcome: 'no_match' };
    },
  };
}

/** A login through `cached` as the chain makes it: asked, then kept if it is the answer (remember). */
async function login(cached: CachedAuthenticator, credentials: Credentials): Promise<AuthnResult> {
  const result = await cached.authenticate(credentials);
  cached.remember(credentials);
  return result;
}

function setUp(options: { ttlMs?: number; maxEntries?: number } = {}) {
  let now = 1_000_000;
  const cache = new CredentialCache({
    ttlMs: options.ttlMs ?? 60_000,
    maxEntries: options.maxEntries ?? 100,
    now: () => now,
  });
  const { authenticator, calls } = backend('right');
  const cached = new CachedAuthenticator(authenticator, cache, () => 'v1');
  return { cache, cached, calls, advance: (ms: number) => (now += ms) };
}

describe('credential cache', () => {
  test('a success is answered from the cache, with the same labels and fingerprint', async () => {
    const { cached, calls } = setUp();
    const first = await login(cached, creds('alice', 'right'));
    const second = await login(cached, creds('alice', 'right'));
    // The hit says it is one: a success the chain then refuses costs the backend's work anyway.
    expect(second).toEqual({ ...first, fromCache: true });
    expect(first).toEqual({ outcome: 'authenticated', labels: { group: ['dev'] }, fingerprint: 'fp-alice' });
    expect(calls).toEqual(['alice']);
  });

  test('a success is forgotten when the respelled login fails because an earlier backend cannot answer', async () => {
    // Found by a review of e10509c: forget ran only on a refusal. An earlier backend that threw
    // on the ask under the stored spelling (ext_auth's command failing, or at its per-client
    // bound) left the directory's success cached for its whole ttl: later tries with that
    // password skipped the login queue and the lockout's reservation.
    const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 10 });
    const directory = directoryFindingAlice();
    const earlier: Authenticator = {
      name: 'ext_auth',
      async authenticate(c) {
        if (c.account === 'alice') throw new Error('command failed');
        return { outcome: 'no_match' };
      },
    };
    const ldap = new CachedAuthenticator(directory, cache, () => 'v1');
    const chain = [new CachedAuthenticator(earlier, cache, () => 'v1'), ldap];
    const verifier = { verify: async () => false, burn: async () => undefined };
    await expect(authenticate(chain, creds('alice@example.org', 'dir-pw'), verifier)).rejects.toThrow(
      'command failed',
    );
    expect(ldap.holds(creds('alice@example.org', 'dir-pw'))).toBe(false);
  });

  test('a success is not held while the chain still decides (a concurrent guess is not cached)', async () => {
    // Found by a review of e10509c: the directory's success was cached as soon as it answered,
    // and forgotten only once an earlier backend, asked under the stored spelling, refused. A
    // second identical guess sent meanwhile counted as cached (past the login queue and the
    // lockout's reservation), which a wrong password never does.
    const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 10 });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let entered: () => void = () => undefined;
    const asking = new Promise<void>((r) => (entered = r));
    const directory = directoryFindingAlice();
    const users: Authenticator = {
      name: 'users',
      async authenticate(c) {
        if (c.account !== 'alice') return { outcome: 'no_match' };
        entered();
        await gate; // its bcrypt comparison
        return { outcome: 'denied', reason: 'wrong password' };
      },
    };
    const ldap = new CachedAuthenticator(directory, cache, () => 'v1');
    const chain = [new CachedAuthenticator(users, cache, () => 'v1'), ldap];
    const verifier = { verify: async () => false, burn: async () => undefined };
    const first = authenticate(chain, creds('alice@example.org', 'dir-pw'), verifier);
    await asking;
    const heldMeanwhile = ldap.holds(creds('alice@example.org', 'dir-pw'));
    release();
    expect((await first).outcome).toBe('denied');
    expect(heldMeanwhile).toBe(false);
    expect(ldap.holds(creds('alice@example.org', 'dir-pw'))).toBe(false);
  });

  test('a login respelled and decided by an earlier backend is cached for the spelling typed', async () => {
    // Found by a review of 78b3c85: only the deciding backend's success was kept, so the finding
    // backend's (the directory's, for ALICE) was dropped: every such login asked the directory
    // again and went through the login queue and the lockout's reservation.
    const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 10 });
    const directoryCalls: string[] = [];
    const users: Authenticator = {
      name: 'users',
      async authenticate(c) {
        return c.account === 'alice' && c.password?.reveal() === 'pw'
          ? { outcome: 'authenticated', labels: {} }
          : { outcome: 'no_match' };
      },
    };
    const directory: Authenticator = {
      name: 'ldap_auth',
      async authenticate(c) {
        directoryCalls.push(c.account);
        return c.password?.reveal() === 'pw'
          ? { outcome: 'authenticated', labels: {}, account: 'alice' }
          : { outcome: 'no_match' };
      },
    };
    const chain = [users, directory].map((a) => new CachedAuthenticator(a, cache, () => 'v1'));
    const verifier = { verify: async () => false, burn: async () => undefined };
    for (let i = 0; i < 2; i++) {
      expect(await authenticate(chain, creds('ALICE', 'pw'), verifier)).toMatchObject({
        outcome: 'authenticated',
        by: 'users',
        account: 'alice',
      });
      expect(chain.some((c) => c.holds(creds('ALICE', 'pw')))).toBe(true);
    }
    expect(directoryCalls).toEqual(['ALICE']);
  });

  test('the chain keeps the success that is its answer', async () => {
    const { cached, calls } = setUp();
    const verifier = { verify: async () => false, burn: async () => undefined };
    expect(await authenticate([cached], creds('alice', 'right'), verifier)).toMatchObject({
      outcome: 'authenticated',
    });
    expect(cached.holds(creds('alice', 'right'))).toBe(true);
    await authenticate([cached], creds('alice', 'right'), verifier);
    expect(calls).toEqual(['alice']);
  });

  test('a success under a stored spelling the name rule refuses is not cached', async () => {
    // Found by a review of 2ca16c2: the chain refuses such a login, but the cache held it as a
    // success. Asked again, the directory's search and bind (or ext_auth's command) were skipped
    // and the login took the cached path past the login queue and the lockout's reservation,
    // while a wrong password pays for all of them each time: two tries told a right password.
    const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 10 });
    let asked = 0;
    const directory: Authenticator = {
      name: 'ldap_auth',
      async authenticate() {
        asked += 1;
        return { outcome: 'authenticated', labels: {}, account: 'admin\u3164' };
      },
    };
    const cached = new CachedAuthenticator(directory, cache, () => 'v1');
    for (let i = 0; i < 3; i++) await login(cached, creds('admin', 'right'));
    expect(asked).toBe(3);
    expect(cached.holds(creds('admin', 'right'))).toBe(false);
  });

  test('a hit keeps the stored spelling the backend named (a directory that found alice for ALICE)', async () => {
    const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 10 });
    let asked = 0;
    const directory: Authenticator = {
      name: 'ldap_auth',
      authenticate: async () => {
        asked += 1;
        return { outcome: 'authenticated', labels: {}, account: 'alice' };
      },
    };
    const cached = new CachedAuthenticator(directory, cache, () => 'v1');
    for (let i = 0; i < 2; i++) {
      expect(await login(cached, creds('ALICE', 'right'))).toEqual({
        outcome: 'authenticated',
        labels: {},
        account: 'alice',
        ...(i > 0 ? { fromCache: true } : {}),
      });
    }
    expect(asked).toBe(1);
  });

  test('a credential that expires before the TTL (a CI token, an app password) is forgotten when it expires', async () => {
    let now = 1_000_000_000;
    const cache = new CredentialCache({ ttlMs: 300_000, maxEntries: 10, now: () => now });
    let asked = 0;
    const ci: Authenticator = {
      name: 'jwt_auth',
      authenticate: async () => {
        asked += 1;
        return { outcome: 'authenticated', labels: {}, expiresAt: (now + 60_000) / 1000 };
      },
    };
    const cached = new CachedAuthenticator(ci, cache, () => 'v1');
    expect(await login(cached, creds('acme/app', 'a.b.c'))).toMatchObject({ expiresAt: 1_000_060 });
    now += 59_999;
    expect(await login(cached, creds('acme/app', 'a.b.c'))).toMatchObject({ expiresAt: 1_000_060 });
    expect(asked).toBe(1);
    now += 1;
    await login(cached, creds('acme/app', 'a.b.c'));
    expect(asked).toBe(2);
  });

  test.each([
    ['just before the TTL', 59_999, 1],
    ['at the TTL', 60_000, 2],
    ['after the TTL', 120_000, 2],
  ])('%s the backend is asked %i time(s)', async (_when, elapsed, asked) => {
    const { cached, calls, advance } = setUp({ ttlMs: 60_000 });
    await login(cached, creds('alice', 'right'));
    advance(elapsed);
    expect((await login(cached, creds('alice', 'right'))).outcome).toBe('authenticated');
    expect(calls).toHaveLength(asked);
  });

  test('failures are never cached', async () => {
    const { cached, calls, cache } = setUp();
    expect((await login(cached, creds('alice', 'wrong'))).outcome).toBe('denied');
    expect((await login(cached, creds('alice', 'wrong'))).outcome).toBe('denied');
    expect(calls).toHaveLength(2);
    expect(cache.size).toBe(0);
  });

  test.each([
    ['another password', creds('alice', 'wrong'), 'denied'],
    ['another account', creds('bob', 'right'), 'authenticated'],
  ] as const)('a success does not answer for %s', async (_what, other, outcome) => {
    const { cached, calls } = setUp();
    await login(cached, creds('alice', 'right'));
    expect((await login(cached, other)).outcome).toBe(outcome);
    expect(calls).toHaveLength(2);
  });

  test('requests without a password go to the backend', async () => {
    const { cached, calls, cache } = setUp();
    await login(cached, creds('', undefined));
    await login(cached, creds('', undefined));
    expect(calls).toHaveLength(2);
    expect(cache.size).toBe(0);
  });

  test('holds at most max_entries, dropping the least recently used', async () => {
    const { cached, calls, cache } = setUp({ maxEntries: 2 });
    for (const account of ['a', 'b', 'c']) await login(cached, creds(account, 'right'));
    expect(cache.size).toBe(2);
    await login(cached, creds('c', 'right'));
    await login(cached, creds('a', 'right'));
    expect(calls).toEqual(['a', 'b', 'c', 'a']);
  });

  test('passes lookup, check and close through to the backend', async () => {
    const calls: string[] = [];
    const inner: Authenticator = {
      name: 'full',
      authenticate: async () => ({ outcome: 'no_match' }),
      lookup: async (account) => (calls.push(`lookup:${account}`), { labels: {} }),
      check: async () => void calls.push('check'),
      close: async () => void calls.push('close'),
    };
    const cached = new CachedAuthenticator(
      inner,
      new CredentialCache({ ttlMs: 1, maxEntries: 1 }),
      () => 'v',
    );
    expect(cached.name).toBe('full');
    expect(cached.inner).toBe(inner);
    await cached.lookup?.('alice');
    await cached.check?.();
    await cached.close?.();
    expect(calls).toEqual(['lookup:alice', 'check', 'close']);
    const bare = new CachedAuthenticator(
      backend('x').authenticator,
      new CredentialCache({ ttlMs: 1, maxEntries: 1 }),
      () => 'v',
    );
    expect([bare.lookup, bare.check, bare.close]).toEqual([undefined, undefined, undefined]);
  });

  test('keeps nothing reversible: keys are keyed hashes, values hold no password', async () => {
    const { cached, cache } = setUp();
    const password = `secret-${Math.random()}`;
    const { authenticator } = backend(password);
    const other = new CachedAuthenticator(authenticator, cache, () => 'v1');
    await login(other, creds('alice', password));
    await login(cached, creds('alice', 'right'));
    expect(inspect(cache, { depth: 10, showHidden: true })).not.toContain(password);
    expect(cache.key(['fake', 'v1', 'alice', password])).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The HMAC key is random per cache (per process in production).
    const again = new CredentialCache({ ttlMs: 1, maxEntries: 1 });
    expect(again.key(['fake', 'v1', 'alice', password])).not.toBe(
      cache.key(['fake', 'v1', 'alice', password]),
    );
  });
});

describe('one keyed hash per request', () => {
  test('holds() then authenticate() with the same password hash it once', async () => {
    const { cached, cache } = setUp();
    await login(cached, creds('alice', 'right'));
    const hashed = vi.spyOn(cache, 'key');
    const request = creds('alice', 'right');
    expect(cached.holds(request)).toBe(true);
    // The chain gets a copy of the credentials with the request's work added: same password.
    expect(await login(cached, { ...request, client: '127.0.0.1' } as Credentials)).toMatchObject({
      outcome: 'authenticated',
    });
    expect(hashed).toHaveBeenCalledTimes(1);
  });

  test('answerNow keeps no key: it ends a cached request, and holds() then authenticate() share one', async () => {
    const { cached, cache } = setUp();
    await login(cached, creds('alice', 'right'));
    const hashed = vi.spyOn(cache, 'key');
    // Answered at once: one hash, and nothing kept for the request's password.
    expect(cached.answerNow(creds('alice', 'right'))).toMatchObject({ outcome: 'authenticated' });
    expect(hashed).toHaveBeenCalledTimes(1);
    // Not answered at once (another password): the queue's check and the authentication that
    // follow share a second hash.
    const request = creds('alice', 'other');
    expect(cached.answerNow(request)).toBeUndefined();
    expect(cached.holds(request)).toBe(false);
    await login(cached, request);
    expect(hashed).toHaveBeenCalledTimes(3);
  });

  test('the remembered key is for its account and entry version only', async () => {
    let version = 'v1';
    const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 10 });
    const { authenticator, calls } = backend('right');
    const cached = new CachedAuthenticator(authenticator, cache, () => version);
    const password = new Secret('right');
    await login(cached, { account: 'alice', password });
    // The same password object for another account is not alice's success.
    expect(cached.holds({ account: 'bob', password })).toBe(false);
    await login(cached, { account: 'bob', password });
    expect(calls).toEqual(['alice', 'bob']);
    expect(cached.holds({ account: 'alice', password })).toBe(true);
    // A reload changed alice's entry: her old success does not answer.
    version = 'v2';
    expect(cached.holds({ account: 'alice', password })).toBe(false);
  });
});

describe('entry versions: a reload that changes a user drops their cached success', () => {
  const user = (passwordHash: string, group: string): StaticUser => ({
    passwordHash,
    labels: { group: [group] },
  });
  const before = new Map([
    ['alice', user('$2y$04$aaaa', 'dev')],
    ['bob', user('$2y$04$bbbb', 'dev')],
  ]);

  test.each([
    ['a changed hash drops it', new Map([...before, ['alice', user('$2y$04$cccc', 'dev')]]), 2],
    ['changed labels drop it', new Map([...before, ['alice', user('$2y$04$aaaa', 'ops')]]), 2],
    ['an unchanged entry keeps it', new Map([...before, ['bob', user('$2y$04$dddd', 'dev')]]), 1],
  ])('%s', async (_what, after, asked) => {
    const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 100 });
    const { authenticator, calls } = backend('right');
    await login(
      new CachedAuthenticator(authenticator, cache, staticEntryVersion(before)),
      creds('alice', 'right'),
    );
    await login(
      new CachedAuthenticator(authenticator, cache, staticEntryVersion(after)),
      creds('alice', 'right'),
    );
    expect(calls).toHaveLength(asked);
  });
});

describe('credential_cache config', () => {
  const base = { token: { issuer: 't' } };

  test.each([
    [undefined, 300, 10_000],
    [{ ttl: '2m' }, 120, 10_000],
    [{ ttl: 0, max_entries: 5 }, 0, 5],
  ])('%j → ttl %i s, max_entries %i', (section, ttl, max) => {
    const raw = configSchema.parse(section === undefined ? base : { ...base, credential_cache: section });
    expect(raw.credential_cache).toEqual({ ttl, max_entries: max });
  });

  test.each([
    [{ ttl: 'soon' }, 'ttl', 'invalid duration "soon"'],
    [{ ttl: '2d' }, 'ttl', 'at most 1 day'],
    [{ max_entries: 0 }, 'max_entries', 'must be at least 1'],
    [{ size: 5 }, '', 'unknown key; expected one of ttl, max_entries'],
  ])('%j is refused at credential_cache.%s', (section, path, message) => {
    const result = configSchema.safeParse({ ...base, credential_cache: section });
    expect(result.success).toBe(false);
    const issue = result.error!.issues[0]!;
    expect(['credential_cache', path].filter(Boolean).join('.')).toBe(issue.path.join('.'));
    expect(issue.message).toContain(message);
  });

  test('ttl 0 disables the cache; the same settings share one cache', () => {
    expect(sharedCredentialCache({ ttlMs: 0, maxEntries: 10 })).toBeUndefined();
    const a = sharedCredentialCache({ ttlMs: 1000, maxEntries: 10 });
    expect(sharedCredentialCache({ ttlMs: 1000, maxEntries: 10 })).toBe(a);
    expect(sharedCredentialCache({ ttlMs: 2000, maxEntries: 10 })).not.toBe(a);
  });
});
