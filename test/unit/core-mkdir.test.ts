import { execFile } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { makeDirectory, makeDirectorySync } from '../../src/core/mkdir.js';
import { tempDir } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const HELPER = pathToFileURL(join(ROOT, 'src/core/mkdir.ts')).href;
const tmp = tempDir('regauth-mkdir-');
afterAll(() => tmp.cleanup());

type Variant = 'async' | 'sync';
const make = (variant: Variant, path: string, mode?: number): Promise<void> =>
  variant === 'async'
    ? makeDirectory(path, mode)
    : Promise.resolve().then(() => makeDirectorySync(path, mode));

/**
 * Runs the helper in a child process, killed after 10 s: node's own recursive mkdir loops forever
 * under /proc, and a loop in this worker (the sync variant's blocks it) would hang the suite.
 * Returns what the child printed: `created`, or the error's message.
 */
async function inChild(variant: Variant, path: string): Promise<string> {
  const call =
    variant === 'async' ? 'await makeDirectory(process.env.DIR)' : 'makeDirectorySync(process.env.DIR)';
  const script = `import { makeDirectory, makeDirectorySync } from ${JSON.stringify(HELPER)};
try { ${call}; console.log('created'); } catch (err) { console.log(err.message); }`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: ROOT, env: { ...process.env, DIR: path }, timeout: 10_000, killSignal: 'SIGKILL' },
  );
  return stdout.trim();
}

describe.each<Variant>(['async', 'sync'])('makeDirectory (%s)', (variant) => {
  test('under /proc (procfs answers ENOENT to mkdir): an error naming the path, not an endless loop', async () => {
    expect(await inChild(variant, '/proc/nope/x')).toBe('cannot create directory /proc/nope: ENOENT');
  }, 20_000);

  test('a nested path: every missing component is created with the mode; again is fine', async () => {
    const top = join(tmp.dir, variant, 'a');
    const leaf = join(top, 'b', 'c');
    await make(variant, leaf, 0o700);
    for (const dir of [top, join(top, 'b'), leaf]) {
      expect(statSync(dir).isDirectory()).toBe(true);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
    }
    await expect(make(variant, leaf, 0o700)).resolves.toBeUndefined();
  });

  test('a parent that is a file: an error naming the path, nothing created', async () => {
    const file = join(tmp.dir, `${variant}-file`);
    writeFileSync(file, 'not a directory');
    const dir = join(file, 'sub', 'dir');
    await expect(make(variant, dir)).rejects.toThrow(`cannot create directory ${dir}: ENOTDIR`);
    await expect(make(variant, file)).rejects.toThrow(`cannot create directory ${file}: EEXIST`);
    expect(statSync(file).isFile()).toBe(true);
    expect(existsSync(join(file, 'sub'))).toBe(false);
  });
});
