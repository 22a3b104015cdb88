import type { FSWatcher } from 'node:fs';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test, vi } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

/** Every watch the watcher makes; `beforeWatch` runs just before one is made (a save landing then). */
const made: FSWatcher[] = [];
let beforeWatch: (() => void) | undefined;
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    watch: ((...args: Parameters<typeof fs.watch>) => {
      const hook = beforeWatch;
      beforeWatch = undefined;
      hook?.();
      const w = fs.watch(...args);
      made.push(w);
      return w;
    }) as typeof fs.watch,
  };
});

const { watchConfigFiles } = await import('../../src/config/watch.js');

const tmp = tempDir('regauth-unit-');
afterAll(() => tmp.cleanup());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a save landing during the re-arm (after the old watches close, before the new ones) is reported', async () => {
  // watch() recorded the fingerprints and closed the old watches before making the new ones: a
  // save in between had no watch to see it and was already recorded. Found by a review.
  const file = join(tmp.dir, 'rearm.yml');
  writeFileSync(file, 'a');
  let changes = 0;
  const watcher = watchConfigFiles(() => changes++, { debounceMs: 20 });
  try {
    watcher.watch([file]);
    await sleep(50);
    beforeWatch = () => writeFileSync(file, 'bb');
    watcher.watch([file]); // the re-arm after some reload
    await sleep(300);
    expect(changes).toBe(1);
  } finally {
    watcher.close();
  }
});

test('after a watch fails (its "error" event), a later save is still reported without a SIGHUP', async () => {
  // An error was only logged: nothing re-armed until some other reload, so every save was lost.
  const file = join(tmp.dir, 'err.yml');
  writeFileSync(file, 'a');
  made.length = 0;
  let changes = 0;
  const watcher = watchConfigFiles(() => changes++, { debounceMs: 20, onError: () => undefined });
  try {
    watcher.watch([file]);
    made[0]!.close();
    made[0]!.emit('error', Object.assign(new Error('EPERM'), { code: 'EPERM' }));
    await sleep(100);
    writeFileSync(file, 'bb');
    await sleep(300);
    expect(changes).toBeGreaterThanOrEqual(1);
  } finally {
    watcher.close();
  }
});

test('a file the reloaded config newly names, saved between the reload reading it and the re-arm, is reported', async () => {
  // Drift was checked only for the files watched before the reload; a newly named file was not
  // watched while the reload read it, and its fingerprint was first taken at the re-arm (after the
  // save). Found by a review.
  const config = join(tmp.dir, 'config.yml');
  const users = join(tmp.dir, 'users.yml');
  writeFileSync(config, 'users: none');
  writeFileSync(users, 'old');
  let changes = 0;
  const watcher = watchConfigFiles(
    () => {
      changes++;
      if (changes > 1) return;
      // The reload: reads the config (now naming users.yml) and users.yml...
      readFileSync(config);
      readFileSync(users);
      // ...which is saved before the re-arm that follows the reload.
      writeFileSync(users, 'new, longer');
      watcher.watch([config, users]);
    },
    { debounceMs: 20 },
  );
  try {
    watcher.watch([config]);
    writeFileSync(config, 'users: users.yml');
    await sleep(400);
    expect(changes).toBe(2);
  } finally {
    watcher.close();
  }
});
