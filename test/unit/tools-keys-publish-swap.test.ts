import { existsSync, mkdirSync, rmdirSync, statSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, expect, test, vi } from 'vitest';
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

test('a publish directory swapped for a symlink after it was made: its target keeps its mode', async () => {
  // keys init --publish made the directory, then set its mode by name: someone who can write in
  // its parent could put a symlink there in between, and the chmod followed it (a private
  // directory elsewhere became 0755).
  const victim = join(tmp.dir, 'private');
  mkdirSync(victim, { mode: 0o700 });
  const publish = join(tmp.dir, 'shared', 'trust');
  afterMake = (path) => {
    if (path !== publish) return;
    rmdirSync(path);
    symlinkSync(victim, path);
  };
  try {
    await expect(keysInit(join(tmp.dir, 'keys'), { publish })).rejects.toThrow(/--publish/);
  } finally {
    afterMake = undefined;
  }
  expect(statSync(victim).mode & 0o777).toBe(0o700);
});

test('so does one swapped for a parent of the key directory, and no key is written through it', async () => {
  const victim = join(tmp.dir, 'private-2');
  mkdirSync(victim, { mode: 0o700 });
  const parent = join(tmp.dir, 'etc', 'regauth');
  afterMake = (path) => {
    if (path !== parent) return;
    rmdirSync(path);
    symlinkSync(victim, path);
  };
  try {
    await expect(keysInit(join(parent, 'keys'))).rejects.toThrow(/no longer the directory just made/);
  } finally {
    afterMake = undefined;
  }
  expect(statSync(victim).mode & 0o777).toBe(0o700);
  expect(existsSync(join(victim, 'keys'))).toBe(false);
});
