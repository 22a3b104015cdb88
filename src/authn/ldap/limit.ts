import { BackendUnavailableError } from '../../core/errors.js';
import { NAME } from './errors.js';

/**
 * The bound on directory work: at most `max` operations at once, each within a budget of twice
 * the operation timeout in all (10 s by default), so several slow steps (queue, connect, search,
 * bind) cannot add up past docker's 15 s. A caller waits for a free slot at most one operation
 * timeout.
 */
export class Limiter {
  readonly #slots: Semaphore;
  readonly #timeoutMs: number;

  constructor(max: number, operationTimeoutMs: number) {
    this.#slots = new Semaphore(max);
    this.#timeoutMs = operationTimeoutMs;
  }

  /**
   * Runs `fn` in a slot; rejects with BackendUnavailableError when no slot frees or time runs out.
   * `asked`: when the caller asked, if it waited before (a lookup queued behind another): the
   * budget counts from then.
   */
  async run<T>(fn: () => Promise<T>, asked = Date.now()): Promise<T> {
    const left = this.#budgetMs - (Date.now() - asked);
    if (left <= 0) throw this.#late();
    await this.#slots.acquire(Math.min(this.#timeoutMs, left));
    // The slot is held until the work really ends, even when the caller has given up on it.
    const work = fn().finally(() => this.#slots.release());
    work.catch(() => undefined);
    return this.within(work, asked);
  }

  /**
   * `work` (shared with other callers: a lookup queued behind another), or BackendUnavailableError
   * once the budget of a caller that asked at `asked` has run out.
   */
  async within<T>(work: Promise<T>, asked: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(this.#late()), this.#budgetMs - (Date.now() - asked));
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  get #budgetMs(): number {
    return 2 * this.#timeoutMs;
  }

  #late(): BackendUnavailableError {
    return new BackendUnavailableError(NAME, `no answer within ${this.#budgetMs / 1000} s`);
  }
}

/** A counting semaphore whose waiters give up after a timeout (the directory is too slow to keep up). */
class Semaphore {
  #free: number;
  readonly #waiters: Array<() => void> = [];
  constructor(size: number) {
    this.#free = size;
  }

  acquire(timeoutMs: number): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(grant);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new BackendUnavailableError(NAME, 'too many concurrent directory requests'));
      }, timeoutMs);
      this.#waiters.push(grant);
    });
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
}
