import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { LockoutPolicy } from '../../src/guard/lockout.js';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redis.js';
import { startRedis, type RedisPeer } from '../e2e/harness/redis.js';

/** The policy the Redis lock tests lock pairs with: the third failure locks for a minute. */
export const REDIS_LOCK_POLICY: LockoutPolicy = {
  enabled: true,
  max_failures: 3,
  backoff: 60,
  max_backoff: 300,
  forget_after: 900,
  ipv6_prefix: 64,
  account_max_failures: 10_000,
  remember_success: 86_400,
};

/** What useRedisPeer hands a test file. */
export interface RedisFixture {
  /** The file's redis-server (usable once its beforeAll has run). */
  readonly redis: RedisPeer;
  /** The file's temporary directory (Redis' own files in its `redis/`), removed after its tests. */
  dir(): string;
  /** Stores closed after the file's tests (splice some out to close them sooner). */
  readonly opened: RedisStore[];
  /** TCP servers (a test's proxies) closed after the stores. */
  readonly servers: Server[];
  /**
   * A RedisStore on the file's Redis (`url` redis.url, `timeoutMs` 500, unless given), closed
   * after the file's tests.
   */
  open(options: Partial<RedisStoreOptions> & { readonly keyPrefix: string }): RedisStore;
}

/**
 * Sets up a real redis-server for one test file: before its tests, started in a fresh temporary
 * directory named from `tmpPrefix` (with `password`, clients must authenticate); after them, the
 * stores in `opened` closed, the servers in `servers` closed, Redis stopped and the directory
 * removed. Call it at the top of the file.
 */
export function useRedisPeer(options: {
  readonly tmpPrefix: string;
  readonly password?: string;
}): RedisFixture {
  let dir: string | undefined;
  let peer: RedisPeer | undefined;
  const opened: RedisStore[] = [];
  const servers: Server[] = [];
  const started = (): RedisPeer => {
    if (!peer) throw new Error('useRedisPeer: Redis is not started yet (used before beforeAll?)');
    return peer;
  };
  const redis: RedisPeer = {
    get port() {
      return started().port;
    },
    get url() {
      return started().url;
    },
    pid: () => started().pid(),
    cli: (...args) => started().cli(...args),
    stop: () => started().stop(),
    start: () => started().start(),
    pause: () => started().pause(),
    resume: () => started().resume(),
    logs: () => started().logs(),
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), options.tmpPrefix));
    peer = await startRedis({
      dir: join(dir, 'redis'),
      ...(options.password !== undefined ? { password: options.password } : {}),
    });
  });

  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    for (const s of servers) s.close();
    await peer?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  return {
    redis,
    dir: () => {
      if (!dir) throw new Error('useRedisPeer: no directory yet (used before beforeAll?)');
      return dir;
    },
    opened,
    servers,
    open(storeOptions) {
      const s = new RedisStore({ url: redis.url, timeoutMs: 500, ...storeOptions });
      opened.push(s);
      return s;
    },
  };
}
