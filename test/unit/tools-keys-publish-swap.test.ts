import { existsSync, mkdirSync, rmdirSync, statSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, expect, test, vi } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

/** Called with each directory makeDirectory has just made (the attacker's moment). */
let afterMake: ((path: string) => void) | undefined;

vi.mock('../../src/core/mkdir.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/core/mkdir.js')>();
  return {
    ...real,
    makeDirectory: async (path: string, mode?: number) => {
      await real.makeDirectory(path, mode);
      afterMake?.(resolve(path));
    },
  };
});

const { keysInit } = await import('../../src/tools/keys.js');

const tmp = tempDir('regauth-keys-publish-swap-');
afterAll(() => tmp.cleanup());
afterEach(() => {
  afterMake = undefined;
});

/** A private (0700) directory, which `path` becomes a symlink to as soon as it is made. */
function swappedOnceMade(path: string, name: string): string {
  const victim = join(tmp.dir, name);
  mkdirSync(victim, { mode: 0o700 });
  afterMake = (made) => {
    if (made !== path) return;
    rmdirSync(made);
    symlinkSync(victim, made);
  };
  return victim;
}

test('a publish directory swapped for a symlink after it was made: its target keeps its mode', async () => {
  // keys init --publish made the directory, then set its mode by name: someone who can write in
  // its parent could put a symlink there in between, and the chmod followed it (a private
  // directory elsewhere became 0755).
  const publish = join(tmp.dir, 'shared', 'trust');
  const victim = swappedOnceMade(publish, 'private');
  await expect(keysInit(join(tmp.dir, 'keys'), { publish })).rejects.toThrow(/--publish/);
  expect(statSync(victim).mode & 0o777).toBe(0o700);
});

test('so does one swapped for a parent of the key directory, and no key is written through it', async () => {
  const parent = join(tmp.dir, 'etc', 'regauth');
  const victim = swappedOnceMade(parent, 'private-2');
  await expect(keysInit(join(parent, 'keys'))).rejects.toThrow(/no longer the directory just made/);
  expect(statSync(victim).mode & 0o777).toBe(0o700);
  expect(existsSync(join(victim, 'keys'))).toBe(false);
});
