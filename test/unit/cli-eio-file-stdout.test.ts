/**
 * Found by a review of 30db161: main() now ignores EIO on stdout/stderr, meant for a hung-up terminal. But
 * EIO is also what write(2) returns for a regular file on a failing disk (or a soft NFS mount).
 * With stdout redirected to a file (`regauth hash > hash.txt`), Node's SyncWriteStream reports
 * that EIO as an 'error' event, which main() now swallows: the hash is lost and the exit code is
 * 0. Only a terminal's EIO (stream.isTTY) means "the reader is gone".
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = tempDir('regauth-review-eio-');
afterAll(() => tmp.cleanup());
const preload = join(tmp.dir, 'eio.mjs');

beforeAll(() => {
  ensureBuilt();
  // The disk under stdout's file fails: every write to fd 1 gets EIO, as write(2) returns it.
  writeFileSync(
    preload,
    `import fs from 'node:fs';
const writeSync = fs.writeSync;
fs.writeSync = function (fd, ...rest) {
  if (fd === 1) {
    const err = new Error('EIO: i/o error, write');
    Object.assign(err, { code: 'EIO', errno: -5, syscall: 'write' });
    throw err;
  }
  return writeSync.call(this, fd, ...rest);
};
`,
  );
}, 120_000);

test('hash > file on a failing disk (EIO on a regular file) does not exit 0 with the hash lost', async () => {
  const outPath = join(tmp.dir, 'hash.txt');
  const out = openSync(outPath, 'w');
  const child = spawn(
    process.execPath,
    ['--import', preload, join(ROOT, 'dist/cli/main.js'), 'hash', '--cost', '4'],
    { stdio: ['pipe', out, 'pipe'] },
  );
  closeSync(out);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end('secret-password');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  expect(readFileSync(outPath, 'utf8')).toBe('');
  // The hash never reached the file: the run must fail.
  expect({ code, stderr }).not.toMatchObject({ code: 0 });
}, 60_000);
