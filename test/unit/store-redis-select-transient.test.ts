/**
 * Found by a review of 3f57aaf, which stopped the store for good on a SELECT Redis refused: SELECT
 * also fails for reasons that pass (-BUSY while another client's Lua script runs long, a one-off
 * -ERR for maxclients taken as the SELECT's answer, -NOAUTH behind a refused AUTH while a password
 * is rotated), and the store then never answered again, with a misleading reason, until regauth
 * was restarted. Only a database Redis can never select stops it now; any other refused SELECT
 * reconnects (never going on in database 0).
 */
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import { useRedisPeer } from '../helpers/redis-store.js';
import { sleep, until } from '../helpers/wait.js';

const { redis, opened, open } = useRedisPeer({ tmpPrefix: 'regauth-store-select-' });

test('a SELECT answered -BUSY while another client runs a long script: the store answers once the script ends', async () => {
  await redis.cli('CONFIG', 'SET', 'busy-reply-threshold', '100');
  const other = new Redis(redis.port, '127.0.0.1', { lazyConnect: false });
  // Another application's slow script, killed after 1.5 s (SCRIPT KILL: it wrote nothing).
  const busy = other.eval('local i = 0 while true do i = i + 1 end', 0).catch((e: Error) => e.message);
  await sleep(300);
  const told: (string | undefined)[] = [];
  const store = open({
    url: `redis://127.0.0.1:${redis.port}/3`,
    keyPrefix: `busy${Date.now()}:`,
    onStatus: (p) => told.push(p),
  });
  await sleep(1_200);
  await redis.cli('SCRIPT', 'KILL');
  expect(await busy).toMatch(/killed/i);
  other.disconnect();
  // Redis answers everyone again; give the store ample time to reconnect.
  const answered = await until(() => store.problem() === undefined, 5_000);
  const ping = await store.ping().then(
    () => 'answers',
    (e: unknown) => (e as Error).message,
  );
  expect({ answered, ping, problem: store.problem(), told }).toMatchObject({
    answered: true,
    ping: 'answers',
  });
});

test("a connection refused for maxclients (its one-off -ERR taken as the SELECT's answer): the store answers once connections free up", async () => {
  // The earlier tests' stores hold no slot here.
  await Promise.all(opened.splice(0).map((s) => s.close()));
  const admin = new Redis(redis.port, '127.0.0.1');
  await admin.ping();
  const connected = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))![1]);
  // A connection storm fills Redis' clients for a moment.
  await admin.config('SET', 'maxclients', String(connected + 3));
  const hogs: Redis[] = [];
  for (let i = 0; i < 3; i++) {
    const h = new Redis(redis.port, '127.0.0.1', { retryStrategy: () => null });
    await h.ping();
    hogs.push(h);
  }
  const told: (string | undefined)[] = [];
  const store = open({
    url: `redis://127.0.0.1:${redis.port}/3`,
    keyPrefix: `maxclients${Date.now()}:`,
    onStatus: (p) => told.push(p),
  });
  await sleep(1_000);
  // The storm passes.
  expect(await admin.config('SET', 'maxclients', '200')).toBe('OK');
  for (const h of hogs) h.disconnect();
  admin.disconnect();
  const answered = await until(() => store.problem() === undefined, 5_000);
  const ping = await store.ping().then(
    () => 'answers',
    (e: unknown) => (e as Error).message,
  );
  expect({ answered, ping, problem: store.problem(), told }).toMatchObject({
    answered: true,
    ping: 'answers',
  });
});

test('a SELECT answered -NOAUTH after a refused AUTH (a password being rotated): the store answers once Redis accepts the password', async () => {
  // Redis still has the old password; regauth was deployed with the new one.
  await redis.cli('CONFIG', 'SET', 'requirepass', 'old-pw');
  const told: (string | undefined)[] = [];
  const store = open({
    url: `redis://127.0.0.1:${redis.port}/3`,
    keyPrefix: `noauth${Date.now()}:`,
    password: { reveal: () => 'new-pw' },
    onStatus: (p) => told.push(p),
  });
  await sleep(1_000);
  // The operator now gives Redis the new password.
  const { runCommand } = await import('../e2e/harness/proc.js');
  const r = await runCommand(
    'redis-cli',
    ['-h', '127.0.0.1', '-p', String(redis.port), 'CONFIG', 'SET', 'requirepass', 'new-pw'],
    { timeoutMs: 10_000, env: { REDISCLI_AUTH: 'old-pw' } },
  );
  expect(r.stdout.trim() + r.stderr.trim()).toBe('OK');
  const answered = await until(() => store.problem() === undefined, 5_000);
  const ping = await store.ping().then(
    () => 'answers',
    (e: unknown) => (e as Error).message,
  );
  expect({ answered, ping, problem: store.problem(), told }).toMatchObject({
    answered: true,
    ping: 'answers',
  });
});
