/**
 * Found by a review of signing-key rotation: two `keys activate` run at once on one key directory
 * (two operators, or jobs on two hosts that share the keys volume). Nothing kept them apart: the
 * second read token.* after the first had renamed next.* over it, wrote the new key over
 * previous.key / previous.pem, then failed on its own rename with a bare ENOENT. The key that
 * signed until the switch was gone while tokens it signed were still valid, and the next rotate
 * left it out of the bundle. A keys step now holds the key directory's lock: a second one at the
 * same time is refused before it changes anything.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { certificateFingerprints } from '../../src/token/keys.js';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = tempDir('regauth-keys-concurrent-');
afterAll(() => tmp.cleanup());
const preload = join(tmp.dir, 'wait.mjs');

beforeAll(() => {
  ensureBuilt();
  // Holds the process just before it first reads token.key, until $GO exists.
  writeFileSync(
    preload,
    `import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const readFile = fs.promises.readFile;
let once = false;
fs.promises.readFile = async (path, ...rest) => {
  if (!once && String(path).endsWith('/token.key')) {
    once = true;
    fs.writeFileSync(process.env.WAITING, '');
    while (!fs.existsSync(process.env.GO)) await new Promise((r) => setTimeout(r, 20));
  }
  return readFile(path, ...rest);
};
syncBuiltinESMExports();
`,
  );
}, 120_000);

const fingerprint = (file: string) => certificateFingerprints(readFileSync(file, 'utf8'))[0];

test('a second keys step while one runs on the directory is refused, and the first one finishes', async () => {
  const dir = join(tmp.dir, 'keys');
  await keysInit(dir);
  await keysRotate(dir);
  const old = fingerprint(join(dir, 'token.pem'));
  const next = fingerprint(join(dir, 'next.pem'));
  const waiting = join(tmp.dir, 'waiting');
  const go = join(tmp.dir, 'go');
  // One operator's activation, held just before it reads token.key.
  const first = spawn(
    process.execPath,
    ['--import', preload, join(ROOT, 'dist/cli/main.js'), 'keys', 'activate', '--dir', dir],
    { env: { ...process.env, WAITING: waiting, GO: go }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  first.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => first.on('exit', (code) => r(code)));
  try {
    for (let i = 0; i < 500 && !existsSync(waiting); i++) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(waiting)).toBe(true);
    // Another operator's, meanwhile: refused, nothing changed.
    const second = await keysActivate(dir).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(second).toBeInstanceOf(UsageError);
    expect((second as Error).message).toMatch(
      /another `regauth keys` step is running on .*; nothing was changed/,
    );
    expect(fingerprint(join(dir, 'token.pem'))).toBe(old);
    expect(fingerprint(join(dir, 'next.pem'))).toBe(next);
    writeFileSync(go, '');
    expect(await exited).toBe(0);
  } finally {
    if (first.exitCode === null) first.kill('SIGKILL');
  }
  expect(stderr).toBe('');
  expect(fingerprint(join(dir, 'token.pem'))).toBe(next);
  expect(fingerprint(join(dir, 'previous.pem'))).toBe(old);
  // The lock is given back: the next step runs.
  await expect(keysRotate(dir)).resolves.toBeDefined();
}, 60_000);

// Found by a review of b62fe34, whose lock (proper-lockfile's) was given up 10 s after its holder
// stopped refreshing it: a step merely paused (Ctrl-Z, a VM suspended) lost it to a second step,
// then went on and wrote the key the second had made current over previous.key. The lock is now
// never taken over: one left by a killed step is named, for the operator to delete.
test('a step killed while it holds the lock leaves it named: refused until it is deleted', async () => {
  const dir = join(tmp.dir, 'killed');
  await keysInit(dir);
  await keysRotate(dir);
  const waiting = join(tmp.dir, 'killed-waiting');
  const held = spawn(
    process.execPath,
    ['--import', preload, join(ROOT, 'dist/cli/main.js'), 'keys', 'activate', '--dir', dir],
    { env: { ...process.env, WAITING: waiting, GO: join(tmp.dir, 'never') }, stdio: 'ignore' },
  );
  const exited = new Promise((r) => held.on('exit', r));
  for (let i = 0; i < 500 && !existsSync(waiting); i++) await new Promise((r) => setTimeout(r, 20));
  expect(existsSync(waiting)).toBe(true);
  // Paused, then killed outright: the lock stays, and says whose it was.
  held.kill('SIGSTOP');
  await new Promise((r) => setTimeout(r, 300));
  const paused = await keysActivate(dir).then(
    () => 'ran',
    (err: Error) => err.message,
  );
  expect(paused).toMatch(new RegExp(`another \`regauth keys\` step is running on .*\\(pid ${held.pid} on `));
  held.kill('SIGKILL');
  await exited;
  const lock = join(dir, '.keys.lock');
  const refused = await keysActivate(dir).then(
    () => 'ran',
    (err: Error) => err.message,
  );
  expect(refused).toContain(`if none is (one was killed), delete ${lock}; nothing was changed`);
  expect(existsSync(join(dir, 'next.key'))).toBe(true);
  rmSync(lock);
  await expect(keysActivate(dir)).resolves.toBeDefined();
  expect(existsSync(lock)).toBe(false);
}, 60_000);
