import { BackendUnavailableError } from '../../core/errors.js';
import { NAME } from './errors.js';

/** A counting semaphore whose waiters give up after a timeout (the directory is too slow to keep up). */
export class Semaphore {
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
