/**
 * Found by a review of refresh tokens: refresh grants do not enter the login queue (docker sends
 * one before each pull, and a flood of slow logins must not hold them back), yet each refresh of
 * an LDAP account looked the account up in the directory again, within ldap_auth's
 * `max_concurrency`. One valid refresh token, sent many times at once, took every directory slot
 * and held password logins back until they timed out. Lookups of one account asked while one is
 * under way now share one lookup queued behind it.
 */
import { expect, test } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { aliceDirectory } from '../helpers/fake-ldap.js';

function setUp() {
  const { directory: dir, authn } = aliceDirectory({
    labels: { groups: { attribute: 'memberOf', parse_cn: true } },
    max_concurrency: 2,
  });
  dir.entries.push({
    dn: 'uid=bob,ou=people,dc=example,dc=org',
    password: 'bob-pw',
    attrs: { uid: 'bob', objectClass: 'inetOrgPerson' },
  });
  return { dir, authn };
}

test('lookups of one account asked together make two directory lookups, not one each', async () => {
  const { dir, authn } = setUp();
  let release!: () => void;
  dir.searchDelay = new Promise((r) => (release = r));
  const flood = Array.from({ length: 50 }, () => authn.lookup!('alice'));
  await new Promise((r) => setTimeout(r, 20));
  release();
  dir.searchDelay = undefined;
  const results = await Promise.all(flood);
  for (const r of results) expect(r).toEqual({ labels: { groups: ['devs'] } });
  // The first lookup, and one queued behind it for the 49 that asked while it was under way.
  expect(dir.searches.filter((s) => s.filter.includes('uid=alice')).length).toBe(2);
  // The next lookup, after those answered, asks the directory again: nothing is remembered.
  dir.entries = dir.entries.filter((e) => !e.dn.startsWith('uid=alice,'));
  expect(await authn.lookup!('alice')).toBeUndefined();
});

test('a flood of lookups of one account leaves directory slots to password logins', async () => {
  const { dir, authn } = setUp();
  let release!: () => void;
  dir.searchDelay = new Promise((r) => (release = r));
  const flood = Array.from({ length: 50 }, () => authn.lookup!('alice'));
  await new Promise((r) => setTimeout(r, 20));
  // The flood's searches stay held; the login's are not. max_concurrency 2: the flood holds one
  // slot, so bob's login takes the other and is answered while the flood still waits.
  dir.searchDelay = undefined;
  const login = authn.authenticate({ account: 'bob', password: new Secret('bob-pw') });
  const first = await Promise.race([login, new Promise((r) => setTimeout(() => r('still waiting'), 500))]);
  release();
  expect(first).toEqual({ outcome: 'authenticated', labels: { groups: [] } });
  await Promise.all(flood);
});
