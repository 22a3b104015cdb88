/**
 * Found by a review of bf82bea: a SELECT answered NOAUTH was kept quiet whenever a password was
 * configured, on the assumption that a refused AUTH had said why. A Redis whose default user is
 * switched off (`ACL SETUSER default off`, common hardening) answers a password-only AUTH with a
 * note ioredis only prints, not a refusal; the SELECT's NOAUTH was then dropped, the store said
 * "not connected yet" for ever, where with database 0 it said "NOAUTH Authentication required.".
 */
import { beforeAll, expect, test } from 'vitest';
import { useRedisPeer } from '../helpers/redis-store.js';
import { sleep } from '../helpers/wait.js';

const { redis, open } = useRedisPeer({ tmpPrefix: 'store-noauth-' });

beforeAll(async () => {
  await redis.cli('ACL', 'SETUSER', 'regauth', 'on', '>pw', '~*', '&*', '+@all');
  await redis.cli('ACL', 'SETUSER', 'default', 'off');
});

async function problemAfter(url: string) {
  const store = open({
    url,
    keyPrefix: `r4${Date.now()}:`,
    // store.username forgotten: AUTH goes to the default user, which is off and has no password.
    password: { reveal: () => 'pw' },
  });
  await sleep(1_500);
  const ping = await store.ping().then(
    () => 'answers',
    (e: unknown) => (e as Error).message,
  );
  return { problem: store.problem(), ping };
}

test('a password the default user does not take, database 3: the store says why it cannot connect, as with database 0', async () => {
  const db0 = await problemAfter(`redis://127.0.0.1:${redis.port}/0`);
  const db3 = await problemAfter(`redis://127.0.0.1:${redis.port}/3`);
  expect({ db0: db0.problem, db3: db3.problem, db3ping: db3.ping }).toEqual({
    db0: expect.stringMatching(/NOAUTH|AUTH/) as unknown,
    db3: expect.stringMatching(/NOAUTH|AUTH/) as unknown,
    db3ping: expect.stringMatching(/NOAUTH|AUTH/) as unknown,
  });
});

test('a wrong password, database 3: the reason is the refused AUTH, not the NOAUTH behind it', async () => {
  const store = open({
    url: `redis://127.0.0.1:${redis.port}/3`,
    keyPrefix: `wrong${Date.now()}:`,
    username: 'regauth',
    password: { reveal: () => 'not-the-password' },
  });
  await sleep(1_500);
  expect(store.problem()).toMatch(/WRONGPASS/);
});
