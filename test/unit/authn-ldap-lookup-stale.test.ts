/**
 * Found by a review of 64f9d3c (ldap_auth shares one directory lookup among lookups of one account in
 * flight). The commit says "nothing is kept after it answers, so a removed entry's tokens stop as
 * before". But a refresh grant that arrives after the entry was removed joins a lookup whose
 * search the directory already answered (its reply still on its way: a slow or loaded directory,
 * up to 2 x operation_timeout), and is given that answer: its refresh token is honoured although
 * the entry was gone before it asked. Before 64f9d3c it made its own search and was refused.
 * (Sharing only with lookups started after the caller arrived, e.g. one follower lookup queued
 * behind the one in flight, would keep the single slot and the freshness.)
 */
import { expect, test } from 'vitest';
import { aliceDirectory } from '../helpers/fake-ldap.js';

test('a lookup that starts after the entry was removed does not get the answer of one from before', async () => {
  // A directory that evaluates a search when it gets it, and whose reply arrives later.
  let release!: () => void;
  const reply = new Promise<void>((r) => (release = r));
  const { directory: dir, authn } = aliceDirectory({ max_concurrency: 4 }, (client) => {
    const search = client.search.bind(client);
    client.search = async (...args: unknown[]) => {
      const answer = await search(...args);
      await reply;
      return answer;
    };
  });

  const before = authn.lookup!('alice');
  // The directory has answered the first search (alice exists); its reply is on its way.
  for (let i = 0; i < 100 && !dir.searches.some((s) => s.filter.includes('uid=alice')); i++)
    await new Promise((r) => setTimeout(r, 5));
  expect(dir.searches.some((s) => s.filter.includes('uid=alice'))).toBe(true);
  // Now the entry is removed, and only then does a second refresh of alice's token ask.
  dir.entries = dir.entries.filter((e) => !e.dn.startsWith('uid=alice,'));
  const after = authn.lookup!('alice');
  await new Promise((r) => setTimeout(r, 20));
  release();
  expect(await before).toEqual({ labels: {} });
  expect(await after).toBeUndefined();
  await authn.close();
});
