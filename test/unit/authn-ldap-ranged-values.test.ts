import { describe, expect, test } from 'vitest';
import type { Entry, SearchOptions } from 'ldapts';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { aliceDirectory, type FakeClientApi } from '../helpers/fake-ldap.js';

/**
 * Found by a review of ldap_auth. Active Directory never returns more values of one attribute than its MaxValRange policy allows
 * (1500 by default): for a user in more groups, `memberOf` comes back empty and the values come
 * under `memberOf;range=0-1499`, the rest to be fetched with `memberOf;range=1500-*` (MS-ADTS
 * 3.1.1.3.1.3.3, "Range Retrieval of Attribute Values"). ldapts hands that over as two keys,
 * `memberOf: []` (asked for, not sent) and `memberOf;range=0-1499: [...]`.
 *
 * regauth's own rule (authenticator.ts #labelled, errors.ts tooManyGroups, docs/backends/ldap.md):
 * a token is never issued from a label list cut short, since "it could leave out a label a rule
 * needs". Yet the ranged values were dropped without a word: the token carried no `groups` at all,
 * and a deny rule on a group (`labels: {groups: contractors}`) no longer held for that user.
 * regauth does not fetch the other ranges: the login (and the refresh lookup) fails closed, 503,
 * saying why (errors.ts rangedValues).
 */

const MAX_VAL_RANGE = 1500;

/** Wraps the fake directory's search to answer as Active Directory does for a multi-valued attribute. */
function activeDirectoryRanges(client: FakeClientApi): void {
  const search = client.search.bind(client) as (
    base: string,
    options?: SearchOptions,
  ) => Promise<{ searchEntries: Entry[]; searchReferences: string[] }>;
  client.search = async (...args: unknown[]) => {
    const [base, options = {}] = args as [string, SearchOptions | undefined];
    const asked = (options.attributes ?? []).map((a) => a.toLowerCase());
    const result = await search(base, options);
    const searchEntries = result.searchEntries.map((entry) => {
      const out: Entry = { dn: entry.dn };
      for (const [key, value] of Object.entries(entry)) {
        if (key === 'dn') continue;
        const values = Array.isArray(value) ? value : [value];
        if (key.toLowerCase() !== 'memberof' || values.length <= MAX_VAL_RANGE) {
          out[key] = value;
          continue;
        }
        // A ranged request (memberOf;range=L-H or L-*), else the first MAX_VAL_RANGE values.
        const ranged = asked.map((a) => /^memberof;range=(\d+)-(\d+|\*)$/.exec(a)).find((m) => m);
        const low = ranged ? Number(ranged[1]) : 0;
        const wantedHigh = ranged && ranged[2] !== '*' ? Number(ranged[2]) : Infinity;
        const high = Math.min(wantedHigh, low + MAX_VAL_RANGE - 1, values.length - 1);
        const last = high === values.length - 1;
        out['memberOf'] = [];
        out[`memberOf;range=${low}-${last ? '*' : String(high)}`] = values.slice(low, high + 1) as string[];
      }
      return out;
    });
    return { ...result, searchEntries };
  };
}

describe('a label attribute Active Directory returns in ranges (a user in more than 1500 groups)', () => {
  test('the login fails closed, never a token without them', async () => {
    const { directory, authn } = aliceDirectory(
      { labels: { groups: { attribute: 'memberOf', parse_cn: true } } },
      activeDirectoryRanges,
    );
    const groups = Array.from({ length: 2000 }, (_, i) => `CN=team-${i},OU=Groups,DC=example,DC=org`);
    groups[0] = 'CN=contractors,OU=Groups,DC=example,DC=org';
    directory.entries[1]!.attrs['memberOf'] = groups;

    const outcome = await authn.authenticate({ account: 'alice', password: new Secret('alice-pw') }).then(
      (r) => r,
      (err: unknown) => err,
    );

    // Before: authenticated with labels {}: the token carried no groups, so a deny rule on
    // `contractors` did not hold.
    expect(outcome).toBeInstanceOf(BackendUnavailableError);
    expect((outcome as Error).message).toMatch(/sent memberOf in ranges/);
  });

  test('the refresh lookup, too, fails closed', async () => {
    const { directory, authn } = aliceDirectory(
      { labels: { groups: { attribute: 'memberOf', parse_cn: true } } },
      activeDirectoryRanges,
    );
    const groups = Array.from({ length: 2000 }, (_, i) => `CN=team-${i},OU=Groups,DC=example,DC=org`);
    groups[0] = 'CN=contractors,OU=Groups,DC=example,DC=org';
    directory.entries[1]!.attrs['memberOf'] = groups;

    const outcome = await authn.lookup!('alice').then(
      (r) => r,
      (err: unknown) => err,
    );
    expect(outcome).toBeInstanceOf(BackendUnavailableError);
    expect((outcome as Error).message).toMatch(/sent memberOf in ranges/);
  });

  test('up to MaxValRange values come whole, as before', async () => {
    const { directory, authn } = aliceDirectory(
      { labels: { groups: { attribute: 'memberOf', parse_cn: true } } },
      activeDirectoryRanges,
    );
    const groups = Array.from(
      { length: MAX_VAL_RANGE },
      (_, i) => `CN=team-${i},OU=Groups,DC=example,DC=org`,
    );
    directory.entries[1]!.attrs['memberOf'] = groups;
    const outcome = await authn.authenticate({ account: 'alice', password: new Secret('alice-pw') });
    if (outcome.outcome !== 'authenticated') throw new Error(`not authenticated: ${outcome.outcome}`);
    expect(outcome.labels['groups']).toHaveLength(MAX_VAL_RANGE);
  });
});
