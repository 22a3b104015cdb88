/**
 * Found by a review of bf82bea: a SELECT answered NOAUTH was kept quiet whenever a password was
 * configured, on the assumption that a refused AUTH had said why. A Redis whose default user is
 * switched off (`ACL SETUSER default off`, common hardening) answers a password-only AUTH with a
 * note ioredis only prints, not a refusal; the SELECT's NOAUTH was then dropped, the store said
 * "not connected yet" for ever, where with database 0 it said "NOAUTH Authentication required.".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { startRedis, type RedisPeer } from '../e2e/harness/redis.js';
import { sleep } from '../helpers/wait.js';

let dir: string;
let redis: RedisPeer;
const opened: RedisStore[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'store-noauth-'));
  redis = await startRedis({ dir: join(dir, 'redis') });
  await redis.cli('ACL', 'SETUSER', 'regauth', 'on', '>pw', '~*', '&*', '+@all');
  await redis.cli('ACL', 'SETUSER', 'default', 'off');
});

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function problemAfter(url: string) {
  const store = new RedisStore({
    url,
    keyPrefix: `r4${Date.now()}:`,
    timeoutMs: 500,
    // store.username forgotten: AUTH goes to the default user, which is off and has no password.
    password: { reveal: () => 'pw' },
  });
  opened.push(store);
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
  const store = new RedisStore({
    url: `redis://127.0.0.1:${redis.port}/3`,
    keyPrefix: `wrong${Date.now()}:`,
    timeoutMs: 500,
    username: 'regauth',
    password: { reveal: () => 'not-the-password' },
  });
  opened.push(store);
  await sleep(1_500);
  expect(store.problem()).toMatch(/WRONGPASS/);
});
