import { Piscina } from 'piscina';

/** The options of a worker-thread pool (piscina's). */
export type PoolOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>;

/**
 * A piscina pool that cannot end the process by itself: piscina emits 'error' for a thread lost
 * between tasks (it replaces the thread), and an 'error' event nobody listens to is thrown. A
 * task's own failure still reaches its caller through run().
 */
export function createPool(options: PoolOptions): Piscina {
  const pool = new Piscina(options);
  pool.on('error', () => {});
  return pool;
}
