/**
 * Found by a review of 2ac2e46 (a keys step finishes its files on SIGINT, SIGTERM or SIGHUP):
 * SIGHUP is a lost session, whose terminal is hung up when it comes. The handler's note
 * ("finishing the key files") to that terminal failed with EIO, main()'s stream error handler
 * rethrew anything but EPIPE, and the process died at once between two of the step's files
 * (next.key written, the bundle without it, *.tmp files left): the state the handler exists to
 * prevent. A terminal gone is a reader gone: its EIO is ignored as EPIPE is.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { keysInit } from '../../src/tools/keys.js';
import { certificateFingerprints } from '../../src/token/keys.js';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = tempDir('regauth-keys-sighup-');
afterAll(() => tmp.cleanup());
const preload = join(tmp.dir, 'hold.mjs');

beforeAll(() => {
  ensureBuilt();
  // Just before the step renames a file over bundle.pem: writes its pid to $WAITING, waits for $GO.
  writeFileSync(
    preload,
    `import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const rename = fs.promises.rename;
fs.promises.rename = async (from, to) => {
  if (String(to).endsWith('/bundle.pem')) {
    fs.writeFileSync(process.env.WAITING, String(process.pid));
    while (!fs.existsSync(process.env.GO)) await new Promise((r) => setTimeout(r, 20));
  }
  return rename(from, to);
};
syncBuiltinESMExports();
`,
  );
}, 120_000);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('SIGHUP after the terminal hung up: the keys step still finishes its files', async () => {
  const dir = join(tmp.dir, 'keys');
  await keysInit(dir);
  const waiting = join(tmp.dir, 'waiting');
  const go = join(tmp.dir, 'go');
  const command = [
    process.execPath,
    '--import',
    preload,
    join(ROOT, 'dist/cli/main.js'),
    'keys',
    'rotate',
    '--dir',
    dir,
  ]
    .map((a) => `'${a}'`)
    .join(' ');
  // On a terminal of its own (script(1)'s pseudo-terminal).
  const terminal = spawn('script', ['-qec', command, '/dev/null'], {
    env: { ...process.env, WAITING: waiting, GO: go },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  terminal.stdout.resume();
  let pid = 0;
  try {
    for (let i = 0; i < 500 && !existsSync(waiting); i++) await new Promise((r) => setTimeout(r, 20));
    pid = Number(readFileSync(waiting, 'utf8'));
    // The session is lost: the terminal goes away, then SIGHUP comes.
    terminal.kill('SIGKILL');
    await new Promise((r) => terminal.on('exit', r));
    process.kill(pid, 'SIGHUP');
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(go, '');
    for (let i = 0; i < 500 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid)).toBe(false);
  } finally {
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  }
  expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  const next = certificateFingerprints(readFileSync(join(dir, 'next.pem'), 'utf8'))[0];
  expect(certificateFingerprints(readFileSync(join(dir, 'bundle.pem'), 'utf8'))).toContain(next);
}, 60_000);
