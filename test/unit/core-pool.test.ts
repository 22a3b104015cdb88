import { EventEmitter } from 'node:events';
import { describe, expect, test } from 'vitest';
import { createPool } from '../../src/core/pool.js';

describe('createPool', () => {
  test('an error event from the pool (a thread lost between tasks) does not end the process', async () => {
    const pool = createPool({ filename: new URL('../../src/token/sign-worker.cjs', import.meta.url).href });
    try {
      expect(() => pool.emit('error', new Error('thread lost'))).not.toThrow();
      // What an emitter without a listener does with the same event.
      expect(() => new EventEmitter().emit('error', new Error('thread lost'))).toThrow('thread lost');
    } finally {
      await pool.destroy();
    }
  });
});
