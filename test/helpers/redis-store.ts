import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { LockoutPolicy } from '../../src/guard/lockout.js';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redis.js';
import { StoreUnavailableError } from '../../src/store/types.js';
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

/** A connection through a black-hole proxy, with everything its client sent. */
export type ProxiedConnection = Socket & { seen: string };

/** A TCP proxy to the file's Redis whose silenced connections are a black hole (RedisFixture.blackHoleProxy). */
export interface BlackHoleProxy {
  /** The proxy as a store URL (database 0). */
  readonly url: string;
  readonly conns: readonly ProxiedConnection[];
  /** Silences the connections `which` picks, from now on. */
  silence(which: (c: ProxiedConnection) => boolean): void;
}

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
  /**
   * A TCP proxy to the file's Redis whose silenced connections are a black hole: bytes stop both
   * ways, and the client's FIN is swallowed too (allowHalfOpen: the proxy never answers it), as a
   * firewall or NAT that dropped the flow, or an L4 proxy whose upstream died without a reset.
   * `silenceOnSubscribe`: that many connections are silenced as they send a SUBSCRIBE. Closed
   * with the file's servers.
   */
  blackHoleProxy(options?: { silenceOnSubscribe?: number }): Promise<BlackHoleProxy>;
}

/**
 * Whether one lockout step goes through `store` (a reservation, given back at once): false when
 * the store cannot answer (StoreUnavailableError).
 */
export async function answersLockoutStep(store: RedisStore): Promise<boolean> {
  try {
    const r = await store.lockout.reserve('5:alice10.0.0.1', 'alice', REDIS_LOCK_POLICY, Date.now());
    if (typeof r === 'object' && 'id' in r) await store.lockout.release(r);
    return true;
  } catch (err) {
    if (err instanceof StoreUnavailableError) return false;
    throw err;
  }
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
    async blackHoleProxy(proxyOptions = {}) {
      let toSilence = proxyOptions.silenceOnSubscribe ?? 0;
      const conns: ProxiedConnection[] = [];
      const silenced = new Set<Socket>();
      const server = createServer({ allowHalfOpen: true }, (sock) => {
        const client = sock as ProxiedConnection;
        client.seen = '';
        conns.push(client);
        const upstream = connect(redis.port, '127.0.0.1');
        client.on('data', (d) => {
          client.seen += d.toString('latin1');
          if (toSilence > 0 && /subscribe/i.test(d.toString('latin1'))) {
            toSilence--;
            silenced.add(client);
          }
          if (!silenced.has(client)) upstream.write(d);
        });
        client.on('end', () => {
          if (!silenced.has(client)) client.end();
        });
        upstream.on('data', (d) => {
          if (!silenced.has(client)) client.write(d);
        });
        client.on('error', () => undefined);
        upstream.on('error', () => undefined);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => {
          if (!silenced.has(client)) client.destroy();
        });
      });
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      return {
        url: `redis://127.0.0.1:${port}/0`,
        conns,
        silence: (which) => conns.filter(which).forEach((c) => silenced.add(c)),
      };
    },
  };
}
