import { describe, expect, test } from 'vitest';
import { authenticate, lookupAccount } from '../../src/authn/chain.js';
import type { PasswordVerifier } from '../../src/authn/password.js';
import { bcryptVerifier } from '../../src/authn/password.js';
import type { Authenticator, AuthnResult, Credentials, LookupResult } from '../../src/authn/types.js';
import { StaticUsersAuthenticator } from '../../src/authn/users.js';
import { parseHtpasswd } from '../../src/authn/htpasswd.js';
import { BackendUnavailableError, WithheldDenialError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { hash, randomPassword } from '../helpers/fixtures.js';

/** A backend that answers as told and records who asked it what. */
interface Stub extends Authenticator {
  readonly asked: string[];
  readonly looked: string[];
  readonly decoys: string[];
}

function stub(
  name: string,
  answer: (c: Credentials) => AuthnResult | Error,
  options: { lookup?: (account: string) => LookupResult | undefined | Error; decoy?: boolean } = {},
): Stub {
  const asked: string[] = [];
  const looked: string[] = [];
  const decoys: string[] = [];
  const throwing = <T>(value: T | Error): T => {
    if (value instanceof Error) throw value;
    return value;
  };
  return {
    name,
    asked,
    looked,
    decoys,
    authenticate: async (c) => {
      asked.push(c.account);
      return throwing(answer(c));
    },
    ...(options.lookup
      ? {
          lookup: async (account: string) => {
            looked.push(account);
            return throwing(options.lookup!(account));
          },
        }
      : {}),
    ...(options.decoy ? { decoy: async (c: Credentials) => void decoys.push(c.account) } : {}),
  };
}

/** Counts the dummy comparisons the chain spends. */
function countingVerifier(): PasswordVerifier & { burns: number } {
  const verifier = {
    burns: 0,
    verify: async () => false,
    burn: async () => {
      verifier.burns += 1;
    },
  };
  return verifier;
}

const creds = (account: string, password: string | undefined = 'pw'): Credentials => ({
  account,
  password: password === undefined ? undefined : new Secret(password),
});

const noMatch = (): AuthnResult => ({ outcome: 'no_match' });
const yes = (group: string) => (): AuthnResult => ({ outcome: 'authenticated', labels: { group: [group] } });
const no = (reason: string) => (): AuthnResult => ({ outcome: 'denied', reason });

describe('authenticate: the first answer decides', () => {
  test('the first backend that authenticates decides; later ones are not asked', async () => {
    const chain = [stub('a', noMatch), stub('b', yes('b')), stub('c', yes('c'))];
    const verifier = countingVerifier();
    expect(await authenticate(chain, creds('alice'), verifier)).toEqual({
      outcome: 'authenticated',
      labels: { group: ['b'] },
      by: 'b',
    });
    expect(chain.map((s) => s.asked)).toEqual([['alice'], ['alice'], []]);
    expect(verifier.burns).toBe(0);
  });

  test('a denial decides even when a later backend would authenticate; later ones only decoy', async () => {
    const chain = [stub('a', no('wrong password')), stub('b', yes('b'), { decoy: true })];
    const verifier = countingVerifier();
    expect(await authenticate(chain, creds('alice'), verifier)).toEqual({
      outcome: 'denied',
      reason: 'wrong password',
      by: 'a',
    });
    expect(chain[1]!.asked).toEqual([]);
    expect(chain[1]!.decoys).toEqual(['alice']);
    // The denial spent no comparison of its own: the chain spends the dummy one.
    expect(verifier.burns).toBe(1);
  });

  test('a later backend that cannot answer: a denial is answered as its outage, at the cost of a made-up name', async () => {
    // Found by a review: a made-up name met the outage (503), a known name's wrong password ran
    // the backend only as its decoy, whose failure was dropped (401): the status told them apart.
    const outage = new BackendUnavailableError('c', 'down');
    const down: Authenticator = {
      name: 'c',
      authenticate: async () => {
        throw outage;
      },
      decoy: async () => outage,
    };
    const costs = [];
    for (const first of [no('wrong password'), noMatch]) {
      const verifier = countingVerifier();
      const err = await authenticate([stub('a', first), down], creds('admin'), verifier).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BackendUnavailableError);
      costs.push({ burns: verifier.burns, withheld: err instanceof WithheldDenialError });
    }
    expect(costs).toEqual([
      { burns: 1, withheld: true },
      { burns: 1, withheld: false },
    ]);
  });

  test('a backend spelling the account as the name rule refuses: denied at the cost of a wrong password', async () => {
    // Found by a review of edb255a: the refusal spent no dummy comparison and ran no later
    // backend's decoy, so it answered a comparison faster than a wrong password for the same
    // entry, telling the attacker the password was right.
    const stored = (): AuthnResult => ({ outcome: 'authenticated', labels: {}, account: 'admin\u3164' });
    const refusing = [stub('a', noMatch), stub('b', stored), stub('c', yes('c'), { decoy: true })];
    const wrong = [stub('a', noMatch), stub('b', no('wrong password')), stub('c', yes('c'), { decoy: true })];
    const costs = [];
    for (const chain of [refusing, wrong]) {
      const verifier = countingVerifier();
      const result = await authenticate(chain, creds('admin'), verifier);
      expect(result.outcome).toBe('denied');
      costs.push({ burns: verifier.burns, decoys: chain[2]!.decoys, asked: chain.map((s) => s.asked) });
    }
    expect(costs[0]).toEqual(costs[1]);
    expect(costs[0]).toEqual({ burns: 1, decoys: ['admin'], asked: [['admin'], ['admin'], []] });
  });

  test("the later backends' decoys run one after another, as a made-up name asks them", async () => {
    const events: string[] = [];
    const slowDecoy = (name: string): Authenticator => ({
      name,
      authenticate: async () => ({ outcome: 'no_match' }),
      decoy: async () => {
        events.push(`${name} start`);
        await new Promise((r) => setTimeout(r, 20));
        events.push(`${name} end`);
        return undefined;
      },
    });
    const chain = [stub('a', no('wrong password')), slowDecoy('b'), slowDecoy('c')];
    await authenticate(chain, creds('alice'), countingVerifier());
    expect(events).toEqual(['b start', 'b end', 'c start', 'c end']);
  });

  test('a denial that already compared a password spends no dummy comparison', async () => {
    const chain = [stub('a', () => ({ outcome: 'denied', reason: 'wrong password', checkedPassword: true }))];
    const verifier = countingVerifier();
    expect(await authenticate(chain, creds('alice'), verifier)).toEqual({
      outcome: 'denied',
      reason: 'wrong password',
      by: 'a',
    });
    expect(verifier.burns).toBe(0);
  });

  test('when every backend says no match, the request is denied by none', async () => {
    const chain = [stub('a', noMatch), stub('b', noMatch)];
    const verifier = countingVerifier();
    expect(await authenticate(chain, creds('nobody'), verifier)).toEqual({
      outcome: 'denied',
      reason: 'unknown account',
      by: null,
    });
    expect(verifier.burns).toBe(1);
    // No password (anonymous): nothing to look alike, nothing spent.
    expect(await authenticate(chain, { account: '', password: undefined }, verifier)).toMatchObject({
      by: null,
    });
    expect(verifier.burns).toBe(1);
  });

  test('a backend that cannot answer fails the request; later ones are not asked', async () => {
    const chain = [stub('a', () => new BackendUnavailableError('a', 'down')), stub('b', yes('b'))];
    await expect(authenticate(chain, creds('alice'), countingVerifier())).rejects.toBeInstanceOf(
      BackendUnavailableError,
    );
    expect(chain[1]!.asked).toEqual([]);
  });

  test('an answer for another spelling is asked again of the earlier backends, which decide', async () => {
    const earlier = stub('a', (c) => (c.account === 'alice' ? yes('a')() : noMatch()));
    const directory = stub('b', () => ({ outcome: 'authenticated', labels: {}, account: 'alice' }));
    expect(await authenticate([earlier, directory], creds('ALICE'), countingVerifier())).toEqual({
      outcome: 'authenticated',
      labels: { group: ['a'] },
      account: 'alice',
      by: 'a',
    });
    expect(earlier.asked).toEqual(['ALICE', 'alice']);
  });

  test('real backends: users decides before users_file for an account both hold', async () => {
    const [usersPw, filePw] = [randomPassword(), randomPassword()];
    const verifier = bcryptVerifier(4);
    const chain = [
      new StaticUsersAuthenticator(
        'users',
        new Map([['alice', { passwordHash: hash(usersPw), labels: { group: ['admins'] } }]]),
        verifier,
      ),
      new StaticUsersAuthenticator(
        'users_file',
        parseHtpasswd(`alice:${hash(filePw)}\nbob:${hash(filePw)}\n`, 'users.htpasswd'),
        verifier,
      ),
    ];
    const login = (account: string, password: string) =>
      authenticate(chain, creds(account, password), verifier);
    expect(await login('alice', usersPw)).toMatchObject({ outcome: 'authenticated', by: 'users' });
    // users_file's password for alice is never checked: users denied first.
    expect(await login('alice', filePw)).toMatchObject({ outcome: 'denied', by: 'users' });
    expect(await login('bob', filePw)).toMatchObject({ outcome: 'authenticated', by: 'users_file' });
  });
});

describe('lookupAccount: the first backend that finds the account decides', () => {
  const found =
    (fingerprint: string) =>
    (account: string): LookupResult | undefined =>
      account === 'alice' ? { fingerprint } : undefined;

  test('the first that finds it decides, backends without lookup are passed over, later ones not asked', async () => {
    const chain = [
      stub('a', noMatch, { lookup: () => undefined }),
      stub('b', noMatch),
      stub('c', noMatch, { lookup: found('c') }),
      stub('d', noMatch, { lookup: found('d') }),
    ];
    expect(await lookupAccount(chain, 'alice')).toEqual({ fingerprint: 'c', by: 'c' });
    expect(chain.map((s) => s.looked)).toEqual([['alice'], [], ['alice'], []]);
    // Lookups never authenticate.
    expect(chain.flatMap((s) => s.asked)).toEqual([]);
  });

  test('undefined when no backend finds it', async () => {
    const chain = [stub('a', noMatch, { lookup: found('a') }), stub('b', noMatch, { lookup: found('b') })];
    expect(await lookupAccount(chain, 'nobody')).toBeUndefined();
  });

  test('`through` asks no backend after the one named', async () => {
    const chain = [
      stub('a', noMatch, { lookup: () => undefined }),
      stub('b', noMatch, { lookup: () => undefined }),
      stub('c', noMatch, { lookup: found('c') }),
    ];
    expect(await lookupAccount(chain, 'alice', { through: 'b' })).toBeUndefined();
    expect(chain[2]!.looked).toEqual([]);
    // An earlier backend that finds it still decides.
    const earlier = [stub('a', noMatch, { lookup: found('a') }), ...chain.slice(1)];
    expect(await lookupAccount(earlier, 'alice', { through: 'c' })).toEqual({ fingerprint: 'a', by: 'a' });
  });

  test('a backend that cannot answer fails the lookup; later ones are not asked', async () => {
    const chain = [
      stub('a', noMatch, { lookup: () => new BackendUnavailableError('a', 'down') }),
      stub('b', noMatch, { lookup: found('b') }),
    ];
    await expect(lookupAccount(chain, 'alice')).rejects.toBeInstanceOf(BackendUnavailableError);
    expect(chain[1]!.looked).toEqual([]);
  });

  test('agrees with authenticate over real backends: the backend that decides a login is the one found', async () => {
    const pw = randomPassword();
    const verifier = bcryptVerifier(4);
    const chain = [
      new StaticUsersAuthenticator(
        'users',
        new Map([['alice', { passwordHash: hash(pw), labels: { group: ['admins'] } }]]),
        verifier,
      ),
      new StaticUsersAuthenticator(
        'users_file',
        parseHtpasswd(`alice:${hash(pw)}\nbob:${hash(pw)}\n`, 'users.htpasswd'),
        verifier,
      ),
    ];
    for (const account of ['alice', 'bob']) {
      const login = await authenticate(chain, creds(account, pw), verifier);
      const lookup = await lookupAccount(chain, account);
      expect(login.outcome).toBe('authenticated');
      expect(lookup?.by).toBe(login.by);
      expect(lookup?.fingerprint).toBe(login.outcome === 'authenticated' ? login.fingerprint : 'none');
    }
    expect(await lookupAccount(chain, 'carol')).toBeUndefined();
  });
});
