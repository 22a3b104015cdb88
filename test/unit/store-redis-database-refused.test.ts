/**
 * Found by a review: store.url's path is the database number. When Redis refused it (past its
 * `databases`, 16 by default), ioredis emitted an 'error' for the failed SELECT and went on to
 * 'ready' in database 0; the store reported nothing, and every key (counts, locks, sign-outs,
 * spent login cookies) landed in database 0: two deployments given /20 and /21 on one Redis shared
 * one lockout without a word in the log. The store now stops and says why.
 */
import { expect, test } from 'vitest';
import { useRedisPeer } from '../helpers/redis-store.js';

const { redis, open } = useRedisPeer({ tmpPrefix: 'regauth-store-db-' });

test('a database number Redis refuses is a store problem, never a silent switch to database 0', async () => {
  const told: (string | undefined)[] = [];
  const store = open({
    url: `redis://127.0.0.1:${redis.port}/99`,
    keyPrefix: `db${Date.now()}:`,
    onStatus: (p) => told.push(p),
  });
  const marked = await store.mark('signout', 'session-1', Date.now() + 60_000, Date.now()).then(
    (v) => `marked: ${v}`,
    (e: unknown) => `refused: ${(e as Error).message}`,
  );
  const inDb0 = Number(await redis.cli('-n', '0', 'DBSIZE'));
  // Either the store says it cannot answer (503 under fail_closed, /readyz not ready) ...
  // ... or it writes where it was told to. Here it does neither.
  expect({ marked, inDb0, problem: store.problem(), told }).toEqual({
    marked: expect.stringMatching(/^refused: .*DB index/) as unknown,
    inDb0: 0,
    problem: expect.stringContaining('DB index') as unknown,
    told: expect.arrayContaining([expect.stringContaining('DB index')]) as unknown,
  });
});
