/**
 * Found by a review of 76a083f (a passing SELECT refusal reconnects): on a refused SELECT the store
 * drops the connection itself, and the ready check cut off with it failed with ioredis' "Reached
 * the max retries per request limit (which is 0)", which replaced the reason on /readyz and in the
 * log. And a NOAUTH answer to SELECT was never the reason, on the assumption that a refused AUTH
 * said why: with no password configured no AUTH is sent, and the reason was lost. With store.url's
 * database 0 (no SELECT) both said why.
 */
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import type { RedisStoreOptions } from '../../src/store/redis.js';
import { useRedisPeer } from '../helpers/redis-store.js';
import { sleep } from '../helpers/wait.js';

const { redis, open } = useRedisPeer({ tmpPrefix: 'store-select-reason-' });

async function problemAfter(url: string, extra: Partial<RedisStoreOptions> = {}) {
  const told: (string | undefined)[] = [];
  const store = open({
    url,
    keyPrefix: `reason${Date.now()}:`,
    onStatus: (p) => told.push(p),
    ...extra,
  });
  await sleep(1_500);
  const ping = await store.ping().then(
    () => 'answers',
    (e: unknown) => (e as Error).message,
  );
  return { problem: store.problem(), ping, told };
}

test('a user without the SELECT command: the store keeps saying so', async () => {
  await redis.cli('ACL', 'SETUSER', 'noselect', 'on', '>pw', '~*', '&*', '+@all', '-select');
  const seen = await problemAfter(`redis://127.0.0.1:${redis.port}/3`, {
    username: 'noselect',
    password: { reveal: () => 'pw' },
  });
  expect(seen).toMatchObject({
    problem: expect.stringMatching(/NOPERM.*select/) as unknown,
    ping: expect.stringMatching(/NOPERM.*select/) as unknown,
  });
});

test('a Redis that requires a password, none configured, database 3: the store says authentication is required, as with database 0', async () => {
  await redis.cli('CONFIG', 'SET', 'requirepass', 'secret');
  try {
    const db0 = await problemAfter(`redis://127.0.0.1:${redis.port}/0`);
    const db3 = await problemAfter(`redis://127.0.0.1:${redis.port}/3`);
    expect({ db0: db0.problem, db3: db3.problem, db3ping: db3.ping }).toEqual({
      db0: expect.stringMatching(/NOAUTH/) as unknown,
      db3: expect.stringMatching(/NOAUTH/) as unknown,
      db3ping: expect.stringMatching(/NOAUTH/) as unknown,
    });
  } finally {
    const r = new Redis(redis.port, '127.0.0.1', { password: 'secret' });
    await r.config('SET', 'requirepass', '');
    r.disconnect();
  }
});
