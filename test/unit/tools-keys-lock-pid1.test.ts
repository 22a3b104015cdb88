/**
 * Found by a review of a60c482 (a second Ctrl-C drops the key directory's lock, then re-sends the signal to
 * end the process). The lock is removed before the process is known to end: where the re-sent
 * signal does not end it — node as PID 1 without an init, as in `docker compose run keys
 * 'regauth keys rotate …'` (docs/deployment.md) or `docker run … regauth keys …`, where the
 * kernel drops a signal PID 1 has no handler for (withRuntime in src/cli/tools.ts knows this and
 * exits by itself) — the step goes on writing bundle.pem and jwks.json with no lock held, so
 * another `keys` step can start on the same directory meanwhile.
 *
 * PID 1 is modelled by a listener of the preload's own that does nothing: the re-sent SIGINT is
 * dropped, as the kernel drops it for PID 1.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { keysInit } from '../../src/tools/keys.js';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = tempDir('regauth-review-own4-pid1-');
afterAll(() => tmp.cleanup());
const preload = join(tmp.dir, 'pid1.mjs');

beforeAll(() => {
  ensureBuilt();
  writeFileSync(
    preload,
    `import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
// PID 1: a signal the process has no handler for is dropped.
process.on('SIGINT', () => undefined);
const rename = fs.promises.rename;
let cut = false;
fs.promises.rename = async (from, to) => {
  if (!cut && String(to).endsWith('/bundle.pem')) {
    cut = true;
    // Ctrl-C twice, just before bundle.pem is renamed into place.
    for (let i = 0; i < 2; i++) {
      process.kill(process.pid, 'SIGINT');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  fs.appendFileSync(process.env.LOG, String(to) + ' ' + (fs.existsSync(process.env.LOCK) ? 'locked' : 'UNLOCKED') + '\\n');
  return rename(from, to);
};
syncBuiltinESMExports();
`,
  );
}, 120_000);

test('a second Ctrl-C the process survives (PID 1) leaves no file written without the lock', async () => {
  const dir = join(tmp.dir, 'keys');
  await keysInit(dir);
  const log = join(tmp.dir, 'renames.log');
  writeFileSync(log, '');
  const run = spawnSync(
    process.execPath,
    ['--import', preload, join(ROOT, 'dist/cli/main.js'), 'keys', 'rotate', '--dir', dir],
    {
      env: { ...process.env, LOG: log, LOCK: join(dir, '.keys.lock') },
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    },
  );
  expect(run.error).toBeUndefined();
  const renames = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
  // Either the process ends at the second Ctrl-C, or it keeps its lock while it writes.
  expect(
    renames.filter((r) => r.endsWith('UNLOCKED')),
    `${renames.join('\n')}\n${run.stderr}`,
  ).toEqual([]);
});
