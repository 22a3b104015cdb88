/**
 * Found by a review of the Redis store: `/readyz` (and `regauth_store_up`) ask Redis only for a
 * PING, which a Redis that refuses every write of the lockout still answers.
 *
 * The defect. readiness() (src/pipeline/health.ts) checks the shared store with `store.ping()`,
 * and RedisStore's #run clears the store's problem on any answered operation. A Redis that
 * answers PING but refuses the lockout's scripts is reported ready: a read-only replica (a
 * failover the endpoint did not follow: the old primary, demoted, answers `READONLY`), a Redis
 * Cluster node (`CROSSSLOT`), `CLIENT PAUSE WRITE` during a managed failover, or a Redis over
 * `maxmemory` under `noeviction`, whose OOM refuses the failure counts (see
 * review-redis-oom-uncounted-guesses.test.ts). Every login whose password
 * must be checked then fails its reservation (503 under `fail_closed`, unlimited under
 * `fail_open`), while `/readyz` says ready, the metrics listener's `/readyz` says `store: ok`, and
 * `regauth_store_up` and the log flap between "cannot answer" (each login) and "answers" (each
 * probe).
 *
 * What the docs promise. docs/deployment.md "When Redis cannot answer": "Under `noeviction` a
 * write refused for memory is a store error"; "`/readyz` answers `503` while Redis cannot answer
 * (its reason, `store`, on the metrics listener's `/readyz` and in the log), and
 * `regauth_store_up` is `0`". docs/operations.md "Health": ready only when, with
 * `store.type: redis`, "Redis answers (check `store`)"; the readiness code's own comment: "A
 * shared store (Redis) that cannot answer: logins that need the lockout are refused ... so this
 * replica is not ready".
 *
 * Suggested fix: make the store's readiness check do what a login does, a write through a script
 * on a key of the prefix (e.g. run the RELEASE script, or `SET <prefix>readyz 1 PX 1000` inside
 * a script, so scripting, writes and memory are all checked), and do not let an answered PING
 * clear a problem a refused write set.
 */
import { afterEach, expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import { readiness } from '../../src/pipeline/health.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { REDIS_LOCK_POLICY as POLICY, useRedisPeer } from '../helpers/redis-store.js';

const { redis, open } = useRedisPeer({ tmpPrefix: 'regauth-review-readyz-' });

/** A loaded config with a key that signs and no backend with a check of its own. */
const runtime = {
  authenticators: [],
  config: {},
  sign: () => Promise.resolve('signed'),
} as unknown as Runtime;

afterEach(async () => {
  await redis.cli('REPLICAOF', 'NO', 'ONE');
});

test('a read-only Redis (READONLY): every login is refused for the store, yet /readyz is ready', async () => {
  const store = open({ keyPrefix: `ready${Date.now()}:` });
  await store.ping();
  // A replica of a primary that is gone: it answers reads and PING, refuses every write.
  await redis.cli('REPLICAOF', '127.0.0.1', '1');
  const lockout = new Lockout({ store: store.lockout, shared: true, policy: () => POLICY });

  // A login whose password must be checked: the store cannot take its reservation (503).
  const reserve = await lockout.reserve('alice', '203.0.113.7').then(
    () => 'reserved',
    (err: unknown) => err,
  );
  expect(reserve).toBeInstanceOf(StoreUnavailableError);

  // The probe, right after.
  const probe = await readiness(runtime, { store });
  expect({ ready: probe.ready, store: probe.checks.store, problem: store.problem() }).toEqual({
    ready: false,
    store: expect.not.stringMatching(/^ok$/) as unknown,
    problem: expect.any(String) as unknown,
  });
});
