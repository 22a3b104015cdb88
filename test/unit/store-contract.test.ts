import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MemoryLockoutStore, MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import {
  StoreUnavailableError,
  type LimitPolicy,
  type Reservation,
  type Store,
} from '../../src/store/types.js';
import { startRedis, type RedisPeer } from '../e2e/harness/redis.js';
import { until } from '../helpers/wait.js';

const POLICY: LimitPolicy = {
  max_failures: 3,
  backoff: 2,
  max_backoff: 30,
  forget_after: 600,
  account_max_failures: 10_000,
  remember_success: 86_400,
};

let dir: string;
let redis: RedisPeer;
const opened: Store[] = [];
let prefixes = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'regauth-store-'));
  redis = await startRedis({ dir: join(dir, 'redis') });
});

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  redis?.resume();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves once `store` answers a ping again (its client reconnects by itself), or throws after 10 s. */
async function answersAgain(store: RedisStore): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await store.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function redisStore(timeoutMs = 500): RedisStore {
  const store = new RedisStore({ url: redis.url, keyPrefix: `t${++prefixes}:`, timeoutMs });
  opened.push(store);
  return store;
}

const kinds: [string, () => Store][] = [
  ['memory', () => new MemoryStore({ maxEntries: 1000 })],
  ['redis', () => redisStore()],
];

describe.each(kinds)('the store contract: %s', (_kind, make) => {
  test('the max_failures-th failure locks the pair; each further one doubles the lock up to the cap', async () => {
    const store = make().lockout;
    const now = Date.now();
    const locked: boolean[] = [];
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      locked.push(await store.failure('alice|10.0.0.1', 'alice', POLICY, now));
      waits.push(await store.blocked('alice|10.0.0.1', 'alice', POLICY, now));
    }
    expect(locked).toEqual([false, false, true, true, true, true, true]);
    expect(waits).toEqual([0, 0, 2, 4, 8, 16, 30]);
    // The lock ends when its time is up (the caller's clock), and other pairs are not held back.
    expect(await store.blocked('alice|10.0.0.1', 'alice', POLICY, now + 30_000)).toBe(0);
    expect(await store.blocked('alice|10.0.0.2', 'alice', POLICY, now)).toBe(0);
  });

  test('a success forgets the pair', async () => {
    const store = make().lockout;
    const now = Date.now();
    for (let i = 0; i < 2; i++) await store.failure('bob|1', 'bob', POLICY, now);
    await store.success('bob|1', 'bob', POLICY, now);
    expect(await store.failure('bob|1', 'bob', POLICY, now)).toBe(false);
    expect(await store.failure('bob|1', 'bob', POLICY, now)).toBe(false);
    expect(await store.failure('bob|1', 'bob', POLICY, now)).toBe(true);
  });

  // Found by a review of 343fb17: a cached login's success, recorded after a lock set through
  // another replica, cleared that lock; a read before it left one round trip for the lock to land.
  test('a success leaves a locked pair locked, and says for how long', async () => {
    const store = make().lockout;
    const now = Date.now();
    for (let i = 0; i < POLICY.max_failures; i++) await store.failure('carol|1', 'carol', POLICY, now);
    expect(await store.success('carol|1', 'carol', POLICY, now)).toBe(2);
    expect(await store.blocked('carol|1', 'carol', POLICY, now)).toBe(2);
    // Once the lock is over, a success forgets the pair again.
    expect(await store.success('carol|1', 'carol', POLICY, now + 2_000)).toBe(0);
    expect(await store.failure('carol|1', 'carol', POLICY, now + 2_000)).toBe(false);
  });

  test('checks in flight count against the failures left; a release frees a slot', async () => {
    const store = make().lockout;
    const now = Date.now();
    await store.failure('carol|1', 'carol', POLICY, now);
    const a = await store.reserve('carol|1', 'carol', POLICY, now);
    const b = await store.reserve('carol|1', 'carol', POLICY, now);
    expect(a).toMatchObject({ key: 'carol|1', account: 'carol' });
    expect(b).toMatchObject({ key: 'carol|1', account: 'carol' });
    expect(await store.reserve('carol|1', 'carol', POLICY, now)).toBe('pair');
    await store.release(a as Reservation);
    const c = await store.reserve('carol|1', 'carol', POLICY, now);
    expect(c).toMatchObject({ key: 'carol|1' });
    // Locked: refused with the seconds to wait.
    await store.failure('carol|1', 'carol', POLICY, now);
    await store.failure('carol|1', 'carol', POLICY, now);
    expect(await store.reserve('carol|1', 'carol', POLICY, now)).toEqual({ refused: 2 });
  });

  test('reservations are atomic: of 60 at once, exactly max_failures get a slot', async () => {
    const store = make().lockout;
    const now = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, () => store.reserve('dave|1', 'dave', POLICY, now)),
    );
    expect(outcomes.filter((o) => typeof o === 'object').length).toBe(3);
    expect(outcomes.filter((o) => o === 'pair').length).toBe(57);
  });

  test('the account cap: past account_max_failures other clients are refused, a client that logged in is not', async () => {
    const store = make().lockout;
    const policy = { ...POLICY, account_max_failures: 4 };
    const now = Date.now();
    await store.success('erin|home', 'erin', policy, now);
    for (let i = 0; i < 4; i++) await store.failure(`erin|10.0.1.${i}`, 'erin', policy, now);
    expect(await store.reserve('erin|new', 'erin', policy, now)).toEqual({ refused: 600 });
    expect(await store.blocked('erin|new', 'erin', policy, now)).toBe(600);
    expect(await store.reserve('erin|home', 'erin', policy, now)).toMatchObject({ account: 'erin' });
    expect(await store.blocked('erin|home', 'erin', policy, now)).toBe(0);
    // The window ends forget_after seconds after its first failure.
    expect(await store.blocked('erin|new', 'erin', policy, now + 600_000)).toBe(0);
  });

  test("the account's checks in flight count against its failures left", async () => {
    const store = make().lockout;
    const policy = { ...POLICY, account_max_failures: 2 };
    const now = Date.now();
    const a = await store.reserve('frank|1', 'frank', policy, now);
    await store.reserve('frank|2', 'frank', policy, now);
    expect(await store.reserve('frank|3', 'frank', policy, now)).toBe('account');
    await store.release(a as Reservation);
    expect(await store.reserve('frank|3', 'frank', policy, now)).toMatchObject({ key: 'frank|3' });
  });

  test('a mark is single-use: of 20 at once exactly one claims it, and it is marked until it expires', async () => {
    const store = make();
    const now = Date.now();
    const claims = await Promise.all(
      Array.from({ length: 20 }, () => store.mark('login', 'state-1', now + 60_000, now)),
    );
    expect(claims.filter(Boolean).length).toBe(1);
    expect(await store.marked('login', 'state-1', now)).toBe(true);
    expect(await store.marked('login', 'state-2', now)).toBe(false);
    expect(await store.marked('other', 'state-1', now)).toBe(false);
  });
});

/** The store's news of locks, once it listens to its lock channel. */
async function listening(store: RedisStore): Promise<number> {
  expect(await until(() => store.lockout.lockNews?.() !== undefined, 10_000)).toBe(true);
  return store.lockout.lockNews!()!;
}

describe('the redis store’s news of locks', () => {
  test('a lock set through another replica is news; failures short of a lock, and other services’ locks, are not', async () => {
    const prefix = `t${++prefixes}:`;
    const [here, there] = [0, 1].map(() => {
      const store = new RedisStore({ url: redis.url, keyPrefix: prefix, timeoutMs: 500 });
      opened.push(store);
      return store;
    }) as [RedisStore, RedisStore];
    const elsewhere = redisStore();
    const before = await listening(here);
    await listening(there);
    const elsewhereBefore = await listening(elsewhere);
    for (let i = 1; i < POLICY.max_failures; i++)
      expect(await there.lockout.failure('n|1', 'n', POLICY, Date.now())).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(here.lockout.lockNews!()).toBe(before);
    expect(await there.lockout.failure('n|1', 'n', POLICY, Date.now())).toBe(true);
    expect(await until(() => here.lockout.lockNews!() !== before, 10_000)).toBe(true);
    expect(here.lockout.lockNews!()).toBeDefined();
    expect(elsewhere.lockout.lockNews!()).toBe(elsewhereBefore);
  });

  test('Redis stopped: no news while it cannot be heard, and another number once it listens again', async () => {
    const store = redisStore();
    const before = await listening(store);
    await redis.stop();
    try {
      expect(await until(() => store.lockout.lockNews!() === undefined, 10_000)).toBe(true);
    } finally {
      await redis.start();
    }
    expect(await listening(store)).not.toBe(before);
  });

  test('the memory store has no news of locks (nothing of it is remembered)', () => {
    const store: Store = new MemoryStore({ maxEntries: 10 });
    expect(store.lockout.lockNews).toBeUndefined();
  });
});

describe('the redis store when Redis fails', () => {
  test('Redis stopped: operations fail fast with StoreUnavailableError, and work again once it is back', async () => {
    const statuses: (string | undefined)[] = [];
    const store = new RedisStore({
      url: redis.url,
      keyPrefix: `t${++prefixes}:`,
      timeoutMs: 500,
      onStatus: (p) => statuses.push(p),
    });
    opened.push(store);
    await store.ping();
    expect(store.problem()).toBeUndefined();
    await redis.stop();
    try {
      const started = Date.now();
      await expect(store.lockout.reserve('g|1', 'g', POLICY, Date.now())).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await expect(store.mark('x', 'y', Date.now() + 1000, Date.now())).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(store.problem()).toBeDefined();
    } finally {
      await redis.start();
    }
    // Reconnection is automatic.
    await answersAgain(store);
    expect(await store.lockout.reserve('g|1', 'g', POLICY, Date.now())).toMatchObject({ key: 'g|1' });
    expect(store.problem()).toBeUndefined();
    expect(statuses.at(-1)).toBeUndefined();
    expect(statuses.some((s) => s !== undefined)).toBe(true);
  });

  test.each([
    ['paused (SIGSTOP)', 'pause'],
    ['busy (DEBUG SLEEP)', 'sleep'],
  ])('Redis %s: an operation fails at the timeout, not the client default', async (_name, how) => {
    const store = redisStore(300);
    await store.ping();
    let sleeping: Promise<string> | undefined;
    if (how === 'pause') redis.pause();
    else {
      sleeping = redis.cli('DEBUG', 'SLEEP', '3');
      await new Promise((r) => setTimeout(r, 200));
    }
    try {
      const started = Date.now();
      await expect(store.lockout.failure('h|1', 'h', POLICY, Date.now())).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      redis.resume();
      await sleeping;
    }
    await answersAgain(store);
  });

  test('a reserve that timed out while Redis was paused holds no slot once Redis runs it', async () => {
    const store = redisStore(300);
    await store.ping();
    redis.pause();
    try {
      await expect(store.lockout.reserve('i|1', 'i', POLICY, Date.now())).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    } finally {
      redis.resume();
    }
    await answersAgain(store);
    const outcomes = await Promise.all(
      [1, 2, 3].map(() => store.lockout.reserve('i|1', 'i', POLICY, Date.now())),
    );
    expect(outcomes.every((o) => typeof o === 'object' && 'id' in o)).toBe(true);
  });

  test('a Redis that requires a password: the right one from the config works, a wrong one is never shown', async () => {
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const locked = await startRedis({ dir: join(dir, 'redis-auth'), password });
    try {
      const good = new RedisStore({
        url: locked.url,
        password: { reveal: () => password },
        keyPrefix: 'auth:',
        timeoutMs: 500,
      });
      opened.push(good);
      await good.ping();
      expect(await good.mark('m', 'x', Date.now() + 1000, Date.now())).toBe(true);
      const wrong = `wrong-${password}`;
      const problems: (string | undefined)[] = [];
      const bad = new RedisStore({
        url: locked.url,
        password: { reveal: () => wrong },
        keyPrefix: 'auth:',
        timeoutMs: 500,
        onStatus: (p) => problems.push(p),
      });
      opened.push(bad);
      const err = await bad.ping().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreUnavailableError);
      const shown = `${(err as Error).message} ${String(bad.problem())} ${problems.join(' ')}`;
      expect(shown).not.toContain(password);
    } finally {
      await locked.stop();
    }
  });
});

describe('the memory store’s overflow', () => {
  test('a lock set under a longer max_backoff holds, pushed out, after a reload to a shorter one', () => {
    const store = new MemoryLockoutStore(2);
    const base = {
      max_failures: 3,
      backoff: 2,
      max_backoff: 30,
      forget_after: 60,
      account_max_failures: 1e6,
      remember_success: 1,
    };
    const long = { ...base, backoff: 3600, max_backoff: 3600 };
    let now = 1_000_000;
    store.failureNow('k-alice', 'alice', base, now);
    store.failureNow('k-alice', 'alice', base, now);
    expect(store.failureNow('k-alice', 'alice', long, now)).toBe(true);
    for (const o of ['k-o1', 'k-o2']) for (let f = 0; f < 3; f++) store.failureNow(o, o, base, now);
    expect(store.blockedNow('k-alice', 'alice', base, now)).toBe(3600);
    now += 121_000;
    expect(store.blockedNow('k-alice', 'alice', base, now)).toBe(3600 - 121);
  });
});

describe('the memory store’s marks (sign-outs, spent login cookies)', () => {
  test('a mark holds until it expires, then is forgotten and may be made again', async () => {
    const store = new MemoryStore({ maxEntries: 10 });
    expect(await store.mark('login', 's1', 1_600_000, 1_000_000)).toBe(true);
    expect(await store.mark('login', 's1', 1_600_000, 1_000_000)).toBe(false);
    expect(await store.mark('login', 's2', 1_700_000, 1_100_000)).toBe(true);
    expect(await store.marked('login', 's1', 1_599_999)).toBe(true);
    expect(await store.mark('login', 's1', 1_600_000, 1_599_999)).toBe(false);
    expect(await store.marked('login', 's1', 1_600_000)).toBe(false);
    expect(await store.mark('login', 's1', 2_200_000, 1_600_000)).toBe(true);
    expect(await store.marked('login', 's2', 1_600_000)).toBe(true);
  });

  test('full, it refuses a new mark (the store cannot answer) and forgets none; room again once some expire', async () => {
    const store = new MemoryStore({ maxEntries: 10, maxMarks: 3 });
    const now = 1_000_000;
    for (const id of ['a', 'b', 'c']) expect(await store.mark('ui', id, now + 60_000, now)).toBe(true);
    await expect(store.mark('ui', 'd', now + 60_000, now)).rejects.toBeInstanceOf(StoreUnavailableError);
    // Nothing was dropped to make room: a signed-out session stays signed out.
    for (const id of ['a', 'b', 'c']) expect(await store.marked('ui', id, now + 1)).toBe(true);
    expect(await store.marked('ui', 'd', now + 1)).toBe(false);
    // Another namespace has room of its own; an expired mark makes room.
    expect(await store.mark('login', 'd', now + 60_000, now)).toBe(true);
    expect(await store.mark('ui', 'e', now + 120_000, now + 60_000)).toBe(true);
    expect(await store.marked('ui', 'e', now + 60_001)).toBe(true);
  });
});
