/**
 * Found by a review of a0613b7 (keys: a second Ctrl-C calls dropKeyLocks() then process.exit(128+n)).
 * dropKeyLocks() gives back only the locks in `heldLocks`, but that set did not track the lock
 * file on disk: withKeysLock added the lock after it created the file and wrote its holder, and
 * deleted it from the set before it removed the file (after an async read of it). A second Ctrl-C
 * in either window exited at once and left `.keys.lock` behind (empty, in the first), so every
 * later `keys` step is refused until someone deletes it by hand - though the step was stopped by
 * Ctrl-C, whose lock "goes, for the next step to find" the files (src/cli/tools.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { keysInit } from '../../src/tools/keys.js';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = tempDir('regauth-review-own5-lock-');
afterAll(() => tmp.cleanup());

/** A preload that presses Ctrl-C twice (200 ms apart) at one `open` of `.keys.lock`. */
function preload(name: string, when: 'create' | 'release'): string {
  const path = join(tmp.dir, `${name}.mjs`);
  writeFileSync(
    path,
    `import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const open = fs.promises.open;
let cut = false;
const twice = async () => {
  for (let i = 0; i < 2; i++) {
    process.kill(process.pid, 'SIGINT');
    await new Promise((r) => setTimeout(r, 200));
  }
};
fs.promises.open = async (path, flags, mode) => {
  const lock = String(path).endsWith('/.keys.lock');
  // 'create': withKeysLock made the lock ('wx') and is writing its holder.
  if (lock && !cut && ${JSON.stringify(when)} === 'create' && flags === 'wx') {
    cut = true;
    const file = await open(path, flags, mode);
    const writeFile = file.writeFile.bind(file);
    file.writeFile = async (...args) => {
      await twice();
      return writeFile(...args);
    };
    return file;
  }
  return open(path, flags, mode);
};
// 'release': the step's last file written (jwks.json), the lock not given back yet.
const rename = fs.promises.rename;
fs.promises.rename = async (from, to) => {
  await rename(from, to);
  if (!cut && ${JSON.stringify(when)} === 'release' && String(to).endsWith('/jwks.json')) {
    cut = true;
    await twice();
  }
};
syncBuiltinESMExports();
`,
  );
  return path;
}

beforeAll(() => ensureBuilt(), 120_000);

for (const when of ['create', 'release'] as const) {
  test(`a second Ctrl-C just after the lock is ${when === 'create' ? 'created' : 'about to be released'} leaves no .keys.lock`, async () => {
    const dir = join(tmp.dir, `keys-${when}`);
    await keysInit(dir);
    const run = spawnSync(
      process.execPath,
      ['--import', preload(when, when), join(ROOT, 'dist/cli/main.js'), 'keys', 'rotate', '--dir', dir],
      { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' },
    );
    expect(run.error).toBeUndefined();
    // Stopped by the second Ctrl-C.
    expect(run.status, run.stderr).toBe(130);
    const lock = join(dir, '.keys.lock');
    expect(
      existsSync(lock),
      `${lock} left (${existsSync(lock) ? JSON.stringify(readFileSync(lock, 'utf8')) : ''})\n${run.stderr}`,
    ).toBe(false);
  });
}
