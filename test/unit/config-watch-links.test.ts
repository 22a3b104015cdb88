import type { FSWatcher } from 'node:fs';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test, vi } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

/** When set, every watch made emits an 'error' right after it is made (a watch that keeps failing). */
let failEvery = false;
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    watch: ((...args: Parameters<typeof fs.watch>) => {
      const w: FSWatcher = fs.watch(...args);
      if (failEvery) {
        setImmediate(() => {
          w.close();
          w.emit('error', Object.assign(new Error('EPERM'), { code: 'EPERM' }));
        });
      }
      return w;
    }) as typeof fs.watch,
  };
});

const { watchConfigFiles } = await import('../../src/config/watch.js');

const tmp = tempDir('regauth-watch-links-');
afterAll(() => tmp.cleanup());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a relative symlink target under a symlinked directory: re-creating the target is reported', async () => {
  // app/current -> releases/42 (relative); releases/42/conf -> ../../common/conf (relative, resolved
  // by the kernel from releases/42, i.e. app/common/conf). It was resolved from the logical path
  // app/current, i.e. <tmp>/common/conf, and the wrong directory watched. Found by a review.
  const app = join(tmp.dir, 'rel', 'app');
  mkdirSync(join(app, 'releases', '42'), { recursive: true });
  mkdirSync(join(app, 'common', 'conf'), { recursive: true });
  symlinkSync('releases/42', join(app, 'current'));
  symlinkSync('../../common/conf', join(app, 'releases', '42', 'conf'));
  const file = join(app, 'current', 'conf', 'config.yml');
  writeFileSync(join(app, 'common', 'conf', 'config.yml'), 'a');
  let changes = 0;
  const watcher = watchConfigFiles(
    () => {
      changes++;
      watcher.watch([file]); // the service re-arms after every reload
    },
    { debounceMs: 20, onError: () => undefined },
  );
  try {
    watcher.watch([file]);
    rmSync(join(app, 'common', 'conf'), { recursive: true });
    await sleep(300);
    const afterDelete = changes;
    expect(afterDelete).toBeGreaterThanOrEqual(1);
    mkdirSync(join(app, 'common', 'conf'));
    writeFileSync(join(app, 'common', 'conf', 'config.yml'), 'b');
    await sleep(400);
    expect(changes).toBeGreaterThan(afterDelete);
  } finally {
    watcher.close();
  }
});

test('a watch that fails again after every re-arm does not reload every debounce forever', async () => {
  // A failed watch asks for a reload, which re-arms; when every new watch failed too, that was a
  // reload every debounce, forever (29 in 600 ms here). Found by a review.
  const dir = join(tmp.dir, 'err');
  mkdirSync(dir);
  const file = join(dir, 'config.yml');
  writeFileSync(file, 'a');
  let changes = 0;
  let errors = 0;
  const watcher = watchConfigFiles(
    () => {
      changes++;
      watcher.watch([file]);
    },
    { debounceMs: 20, onError: () => errors++ },
  );
  try {
    failEvery = true;
    watcher.watch([file]);
    await sleep(600);
    // Nothing changed on disk: one retry is fine, a reload (and a logged warning) every 20 ms is not.
    expect(changes).toBeLessThanOrEqual(3);
  } finally {
    failEvery = false;
    watcher.close();
  }
  console.log({ changes, errors });
});

test('symlink cycles and a link to / do not hang or throw', () => {
  const d = join(tmp.dir, 'cyc');
  mkdirSync(d);
  symlinkSync('b', join(d, 'a'));
  symlinkSync('a', join(d, 'b'));
  symlinkSync('/', join(d, 'root'));
  symlinkSync('self', join(d, 'self'));
  const watcher = watchConfigFiles(() => undefined, { debounceMs: 20, onError: () => undefined });
  try {
    watcher.watch([
      join(d, 'a', 'conf', 'c.yml'),
      join(d, 'root', 'nonexistent-x', 'c.yml'),
      join(d, 'self', 'c.yml'),
    ]);
  } finally {
    watcher.close();
  }
});
