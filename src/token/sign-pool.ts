import type { SignKeyObjectInput } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import { createPool } from '../core/pool.js';

/** The worker file, next to this module in src/ (tests) and dist/ (tsc copies it, allowJs). */
const WORKER = new URL('./sign-worker.cjs', import.meta.url).href;

/**
 * What to sign with: a key, its hash, and how many signatures one task may carry. Made once per
 * key (src/token/sign.ts): the signatures of a turn are batched per job, so a batch never mixes
 * keys or hashes.
 */
export interface SignJob {
  readonly hash: string;
  readonly key: SignKeyObjectInput;
  /** At most this many signatures per task; 1 sends each alone. */
  readonly maxBatch: number;
}

/**
 * The batch for a key whose signature takes tens of µs (ES256): 16 of them are under a
 * millisecond of a thread's time. A signature that takes a millisecond or more (RS256 about 1 ms,
 * ES384 1.3 ms, ES512 3 ms on the development machine) goes alone, so a burst is shared by the
 * threads instead of waiting in one batch.
 */
export const MAX_BATCH = 16;

/**
 * At most as many threads as libuv's default pool, which signed before: a busy server with an
 * RSA or ES512 key needs more than one. Threads past the first start only while every thread is
 * busy (each costs some 10 to 30 MB of memory).
 */
const MAX_THREADS = Math.min(4, availableParallelism());

/** How long a thread past the first may stay idle before it stops. */
const IDLE_MS = 10_000;

/**
 * A signing thread keeps only a batch's strings and buffers alive: a young generation of 4 MB
 * (V8's default grows to 32) is plenty, and kept the peak memory of a loaded server about 15 MB
 * lower per thread.
 */
const YOUNG_GENERATION_MB = 4;

interface Waiting {
  readonly input: string;
  readonly resolve: (jws: string) => void;
  readonly reject: (err: unknown) => void;
}

/** The pool, started by the first signer made (startSignPool); one per process, whatever the runtime or key. */
let pool: Piscina | undefined;
/** Signatures asked for in this event-loop turn, by job, sent when the turn ends. */
const open = new Map<SignJob, Waiting[]>();
let flushQueued = false;

/**
 * Signs a JWS signing input (`base64url(header).base64url(claims)`) and resolves with the compact
 * JWS (`input.signature`). The signatures asked for in one event-loop turn go to a worker thread
 * together, at most `job.maxBatch` per task, and come back in one message: node's asynchronous
 * `crypto.sign` woke a thread-pool thread for every signature and the event loop again for every
 * result, which under load cost the event loop more than the signature costs the thread.
 */
export function signJws(job: SignJob, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let waiting = open.get(job);
    if (!waiting) {
      waiting = [];
      open.set(job, waiting);
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    }
    waiting.push({ input, resolve, reject });
    if (waiting.length >= job.maxBatch) {
      open.delete(job);
      send(job, waiting);
    }
  });
}

/** Sends every batch of the turn; the map is emptied first, so nothing is left behind. */
function flush(): void {
  flushQueued = false;
  const batches = [...open];
  open.clear();
  for (const [job, waiting] of batches) send(job, waiting);
}

/** Sends one batch; whatever goes wrong, now or in the thread, rejects every signature in it. */
function send(job: SignJob, waiting: readonly Waiting[]): void {
  const fail = (err: unknown) => {
    for (const w of waiting) w.reject(err);
  };
  let done: Promise<string[]>;
  try {
    done = getPool().run({ hash: job.hash, key: job.key, inputs: waiting.map((w) => w.input) });
  } catch (err) {
    // piscina starts a thread inside run(); past the process's thread limit that throws at once.
    fail(err);
    return;
  }
  done.then((signatures) => {
    for (let i = 0; i < waiting.length; i++) {
      const w = waiting[i]!;
      w.resolve(`${w.input}.${signatures[i]!}`);
    }
  }, fail);
}

/**
 * Starts the pool's first thread now, so the first token does not wait for it (a thread takes
 * tens of milliseconds to start). A signer calls it when it is made (src/token/sign.ts); idle
 * threads do not keep the process alive.
 */
export function startSignPool(): void {
  getPool();
}

/** How many signing threads run now (0 before the pool started). */
export function signingThreads(): number {
  return pool?.threads.length ?? 0;
}

function getPool(): Piscina {
  if (!pool) {
    pool = createPool({
      filename: WORKER,
      minThreads: 1,
      maxThreads: MAX_THREADS,
      idleTimeout: IDLE_MS,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      // No run- and wait-time histograms: nothing reads them, and they cost every task.
      recordTiming: false,
    });
  }
  return pool;
}
