/**
 * Found by a review: docs/deployment.md allowed a `volatile-*` maxmemory-policy "that does not drop
 * locks early". Every key regauth writes has a TTL, so under any such policy regauth's own keys are
 * what Redis evicts, locks included, and a flood of failures for made-up names (cheap with oidc_auth
 * or jwt_auth) fills the memory that pushes a locked pair out: its lock lifts and its count resets
 * long before their time. Nothing told the operator. The store now says so on every connection to
 * a Redis with a memory limit and a policy other than noeviction.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { RedisStore } from '../../src/store/redis.js';
import { writeSigningKey } from '../helpers/fixtures.js';
import { useRedisPeer } from '../helpers/redis-store.js';
import { logSink } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const { redis, dir } = useRedisPeer({ tmpPrefix: 'regauth-evict-' });

/** What a store told of Redis' eviction within a second of connecting. */
async function toldOnConnect(): Promise<{ policy: string; maxmemory: number }[]> {
  const told: { policy: string; maxmemory: number }[] = [];
  const store = new RedisStore({
    url: redis.url,
    keyPrefix: 'ev:',
    timeoutMs: 2_000,
    onEvicts: (policy, maxmemory) => told.push({ policy, maxmemory }),
  });
  try {
    await store.ping();
    await until(() => told.length > 0, 1_000);
    return told;
  } finally {
    await store.close();
  }
}

test.each(['volatile-lru', 'volatile-ttl', 'allkeys-lru'])(
  'a Redis with a memory limit and maxmemory-policy %s is told as one that may evict locks',
  async (policy) => {
    await redis.cli('CONFIG', 'SET', 'maxmemory', '104857600');
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', policy);
    expect(await toldOnConnect()).toEqual([{ policy, maxmemory: 104_857_600 }]);
  },
);

test('noeviction, or no memory limit at all, is not told', async () => {
  await redis.cli('CONFIG', 'SET', 'maxmemory', '104857600');
  await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  expect(await toldOnConnect()).toEqual([]);
  await redis.cli('CONFIG', 'SET', 'maxmemory', '0');
  await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'volatile-lru');
  expect(await toldOnConnect()).toEqual([]);
});

test('regauth serve warns of it in the log, naming the policy and what to set', async () => {
  await redis.cli('CONFIG', 'SET', 'maxmemory', '104857600');
  await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'volatile-lru');
  const keys = await writeSigningKey(dir());
  const configFile = join(dir(), 'config.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: []\nstore: {type: redis, url: "${redis.url}"}\n`,
  );
  const log = logSink();
  const service = await startService({
    configFile,
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watch: false,
  });
  try {
    const warning = () =>
      log.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l['level'] === 40 && l['maxmemory_policy'] !== undefined);
    expect(await until(() => warning() !== undefined, 2_000)).toBe(true);
    expect(warning()).toMatchObject({ maxmemory_policy: 'volatile-lru', maxmemory: 104_857_600 });
    expect(warning()?.['msg']).toContain('set maxmemory-policy noeviction');
  } finally {
    await service.close(100);
  }
});
