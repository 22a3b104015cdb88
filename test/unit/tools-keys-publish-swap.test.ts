import { existsSync, mkdirSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, test, vi } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

/** Called with each directory path keys init has just made (the attacker's moment). */
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
// Under umask 077 every directory keys init makes needs its mode set after it is made.
let umask: number;
beforeAll(() => {
  umask = process.umask(0o077);
});
afterAll(() => {
  process.umask(umask);
  tmp.cleanup();
});
afterEach(() => {
  afterMake = undefined;
});

/** A private (0700) directory `name`, which `path` becomes a symlink to once keys init made it. */
function swappedOnceMade(path: string, name: string): string {
  const victim = join(tmp.dir, name);
  mkdirSync(victim, { mode: 0o700 });
  afterMake = (made) => {
    if (made !== path) return;
    rmdirSync(path);
    symlinkSync(victim, path);
  };
  return victim;
}

// Whoever can write in a parent of the key or publish directory decides where the files go
// (docs/cli.md says so); what keys init promises is that it never changes the mode of a directory
// it did not make. It made them, then set their mode by name: a symlink put in place of one in
// between carried the chmod to a private directory elsewhere (0700 became 0755). Found by a review.
// (A directory higher up swapped once its own mode is set leads the next step elsewhere: that is
// the "writable by their owner only" the docs ask for.)

test('a publish directory swapped for a symlink once made: the directory it leads to keeps its mode', async () => {
  const publish = join(tmp.dir, 'shared', 'trust');
  const victim = swappedOnceMade(publish, 'private');
  await keysInit(join(tmp.dir, 'keys'), { publish }).catch(() => undefined);
  expect(statSync(victim).mode & 0o777).toBe(0o700);
});

test('so does one put in place of a parent of the key directory', async () => {
  const parent = join(tmp.dir, 'etc', 'regauth');
  const victim = swappedOnceMade(parent, 'private-2');
  await keysInit(join(parent, 'keys')).catch(() => undefined);
  expect(statSync(victim).mode & 0o777).toBe(0o700);
});

test('a refused init removes what it made, not a directory a swapped parent leads to', async () => {
  // The victim holds an empty keys/ of its own; --publish fails after the key directory was made
  // (a file is in the way), and the clean-up went by name, deepest first, through the link.
  const parent = join(tmp.dir, 'etc-c', 'regauth');
  const victim = swappedOnceMade(parent, 'private-4');
  mkdirSync(join(victim, 'keys'), { mode: 0o700 });
  writeFileSync(join(tmp.dir, 'a-file'), '');
  await expect(keysInit(join(parent, 'keys'), { publish: join(tmp.dir, 'a-file', 'trust') })).rejects.toThrow(
    /no longer the directory just made/,
  );
  expect(existsSync(join(victim, 'keys'))).toBe(true);
});
