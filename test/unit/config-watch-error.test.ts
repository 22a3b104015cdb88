import type { FSWatcher } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test, vi } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

/** Every watch the watcher makes, to fail one as the platform would. */
const made: FSWatcher[] = [];
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    watch: ((...args: Parameters<typeof fs.watch>) => {
      const w = fs.watch(...args);
      made.push(w);
      return w;
    }) as typeof fs.watch,
  };
});

const { watchConfigFiles } = await import('../../src/config/watch.js');

const tmp = tempDir('regauth-watch-error-');
afterAll(() => tmp.cleanup());

test('a watch that failed (its "error" event: node closes it) is made again by the next re-arm', async () => {
  // A re-arm that kept a watch while its directory was the same one kept one that had errored
  // (and been closed by node) for good: not even a SIGHUP reload brought watching back.
  // Found by a review.
  const file = join(tmp.dir, 'config.yml');
  writeFileSync(file, 'a');
  let changes = 0;
  const errors: Error[] = [];
  const watcher = watchConfigFiles(() => changes++, { debounceMs: 20, onError: (e) => errors.push(e) });
  try {
    watcher.watch([file]);
    expect(made).toHaveLength(1);
    // What node does on a failed watch (EPERM on Windows when the directory goes, ENOSPC…):
    // close the handle, then emit 'error'.
    made[0]!.close();
    made[0]!.emit(
      'error',
      Object.assign(new Error('EPERM: operation not permitted, watch'), { code: 'EPERM' }),
    );
    expect(errors).toHaveLength(1);
    // A reload (SIGHUP) re-arms the watcher with the same files.
    watcher.watch([file]);
    writeFileSync(file, 'b');
    for (const end = Date.now() + 2000; Date.now() < end && changes === 0;) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(changes).toBeGreaterThan(0);
  } finally {
    watcher.close();
  }
});
