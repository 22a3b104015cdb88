import type { SignKeyObjectInput } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';

/** The worker file, next to this module in src/ (tests) and dist/ (tsc copies it, allowJs). */
const WORKER = new URL('./sign-worker.cjs', import.meta.url).href;

/**
 * The most signatures one task carries: a burst larger than this is shared by several threads
 * (an RS256 signature takes about a millisecond, so a batch of 16 is already worth a thread).
 */
export const MAX_BATCH = 16;

/**
 * At most as many threads as libuv's default pool, which signed before: one signs an ES256 token
 * in well under a tenth of a millisecond, but RS256 takes about 1 ms and ES512 about 3 ms, so a
 * busy server with such a key needs more than one. Threads past the first start only while every
 * thread is busy (each costs some 10 to 30 MB of memory).
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

interface Batch {
  readonly hash: string;
  readonly key: SignKeyObjectInput;
  readonly waiting: Waiting[];
}

/** The pool, started on the first signature; one per process, whatever the runtime or key. */
let pool: Piscina | undefined;
/** Signatures asked for in this event-loop turn, one batch per key, sent when the turn ends. */
const open = new Map<SignKeyObjectInput, Batch>();
let flushQueued = false;

/**
 * Signs a JWS signing input (`base64url(header).base64url(claims)`) and resolves with the compact
 * JWS (`input.signature`). The signatures asked for in one event-loop turn go to a worker thread
 * together, at most MAX_BATCH per task, and come back in one message: node's asynchronous
 * `crypto.sign` woke a thread-pool thread for every signature and the event loop again for every
 * result, which under load cost the event loop more than the signature costs the thread.
 */
export function signJws(hash: string, key: SignKeyObjectInput, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let batch = open.get(key);
    if (!batch) {
      batch = { hash, key, waiting: [] };
      open.set(key, batch);
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    }
    batch.waiting.push({ input, resolve, reject });
    if (batch.waiting.length >= MAX_BATCH) {
      open.delete(key);
      send(batch);
    }
  });
}

function flush(): void {
  flushQueued = false;
  for (const batch of open.values()) send(batch);
  open.clear();
}

function send(batch: Batch): void {
  pool ??= new Piscina({
    filename: WORKER,
    minThreads: 1,
    maxThreads: MAX_THREADS,
    idleTimeout: IDLE_MS,
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    // No run- and wait-time histograms: nothing reads them, and they cost every task.
    recordTiming: false,
  });
  const { waiting } = batch;
  pool.run({ hash: batch.hash, key: batch.key, inputs: waiting.map((w) => w.input) }).then(
    (signatures: string[]) => {
      for (let i = 0; i < waiting.length; i++) {
        const w = waiting[i]!;
        w.resolve(`${w.input}.${signatures[i]!}`);
      }
    },
    (err: unknown) => {
      for (const w of waiting) w.reject(err);
    },
  );
}
