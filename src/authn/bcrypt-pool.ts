import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import { createPool } from '../core/pool.js';
import type { PasswordVerifier } from './password.js';

/**
 * The worker file, next to this module both in src/ (tests) and in dist/ (built): it is plain
 * JavaScript, which tsc copies (allowJs), so no build step stands between a test and the worker.
 */
const WORKER = new URL('./bcrypt-worker.cjs', import.meta.url).href;

/** One pool per process, shared by every runtime (a reload must not start a second pool). */
let shared: { pool: Piscina; leases: number; dummies: Map<number, Promise<string>> } | undefined;

/** The number of worker threads: one per core, as bcrypt is pure CPU. */
export function poolSize(): number {
  return availableParallelism();
}

/**
 * A password verifier that runs bcryptjs in a pool of worker threads sized to the cores, so a
 * login storm never blocks the event loop: cached logins, token signing and health probes are
 * answered while comparisons run. The pool is shared by the whole process; each verifier holds
 * a lease on it, and `close()` returns the lease (the pool stops when the last one is returned).
 * `cost`: the highest cost of the users' hashes (see {@link PasswordVerifier}); undefined when
 * no hash is configured (no padding, no burn).
 */
export function bcryptPoolVerifier(cost: number | undefined): PasswordVerifier & { close(): Promise<void> } {
  if (!shared) {
    const threads = poolSize();
    // Idle workers are unref'd by piscina, so the pool never keeps the process alive by itself.
    shared = {
      pool: createPool({ filename: WORKER, minThreads: threads, maxThreads: threads }),
      leases: 0,
      dummies: new Map(),
    };
  }
  const lease = shared;
  lease.leases += 1;
  let closed = false;

  const dummy = (dummyCost: number): Promise<string> => {
    // A hash of a random value nobody knows, made once per cost and process, in a worker.
    let hash = lease.dummies.get(dummyCost);
    if (!hash) {
      hash = lease.pool.run({ cost: dummyCost }, { name: 'dummyHash' }) as Promise<string>;
      lease.dummies.set(dummyCost, hash);
    }
    return hash;
  };
  // Made now, not by the first made-up account: that login would also pay for the hash, twice a
  // known account's time, and tell once after each start or reload which names exist. (A failure
  // reaches the burn that awaits it.)
  if (cost !== undefined) dummy(cost).catch(() => undefined);

  return {
    verify: (password, hash) =>
      lease.pool.run(
        { password: password.reveal(), hash, padTo: cost },
        { name: 'compare' },
      ) as Promise<boolean>,
    burn: async (password) => {
      if (cost === undefined) return;
      await lease.pool.run(
        { password: password?.reveal() ?? '', hash: await dummy(cost) },
        { name: 'compare' },
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      lease.leases -= 1;
      if (lease.leases === 0 && shared === lease) {
        shared = undefined;
        await lease.pool.destroy();
      }
    },
  };
}
