import { NoSuchObjectError, type SearchOptions } from 'ldapts';
import { describe, expect, test } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { aliceDirectory } from '../helpers/fake-ldap.js';

/**
 * Found by a review of the first version of the labels' read after the bind (a4251bc): when that
 * read did not give the entry back (NoSuchObject: the entry renamed or removed between the search
 * and the read; or no entry: the service account may search by the filter's attributes but not
 * read the entry by its DN), the login fell back to the first search's entry, which holds no
 * label attribute: it succeeded with every label empty, where rules written against labels
 * (deny rules, `!(…)` patterns) expect them. It fails closed now (503).
 */
const ALICE = 'uid=alice,ou=people,dc=example,dc=org';

function setUp(baseRead: 'no-such-object' | 'empty' | 'answers') {
  return aliceDirectory({ labels: { groups: { attribute: 'memberOf', parse_cn: true } } }, (client) => {
    const search = client.search.bind(client);
    client.search = async (...args: unknown[]) => {
      const [base, options] = args as [string, SearchOptions];
      if (options?.scope === 'base' && base === ALICE && baseRead !== 'answers') {
        if (baseRead === 'no-such-object') throw new NoSuchObjectError('No such object');
        return { searchEntries: [], searchReferences: [] };
      }
      // As a directory does (the fake returns every attribute): only the attributes asked for.
      const r = (await search(...args)) as { searchEntries: Record<string, unknown>[] };
      const wanted = (options?.attributes ?? []).map((a) => a.toLowerCase());
      return {
        searchReferences: [],
        searchEntries: r.searchEntries.map((e) =>
          Object.fromEntries(
            Object.entries(e).filter(([k]) => k === 'dn' || wanted.includes(k.toLowerCase())),
          ),
        ),
      };
    };
  });
}

const outcome = async (authn: ReturnType<typeof aliceDirectory>['authn']) =>
  authn.authenticate({ account: 'alice', password: new Secret('alice-pw') }).then(
    (r) => r,
    (e: unknown) => ({ outcome: 'threw', name: (e as Error).constructor.name }),
  );

describe('the labels read after the bind does not find the entry', () => {
  test('sanity: with the read answering, alice has her label', async () => {
    const { authn } = setUp('answers');
    expect(await outcome(authn)).toEqual({ outcome: 'authenticated', labels: { groups: ['devs'] } });
  });

  for (const kind of ['no-such-object', 'empty'] as const) {
    test(`${kind}: the login fails closed, never a success without labels`, async () => {
      const { authn } = setUp(kind);
      expect(await outcome(authn)).toEqual({ outcome: 'threw', name: 'BackendUnavailableError' });
    });
  }
});
