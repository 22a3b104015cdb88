/**
 * Found by a review of b30d29d (serve exits once the log is written): a line larger than the
 * 16 MiB that may wait for stdout's reader is dropped as soon as it is given, with nothing being
 * written; the count of lines dropped was said only once a write ended, so none was said, and the
 * exit, which waits for that count to be said, waited for ever.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir } from '../helpers/fixtures.js';
import { sleep } from '../helpers/wait.js';

const LOG = resolve(import.meta.dirname, '../../dist/core/log.js');
const tmp = tempDir('regauth-log-oversize-');
afterAll(() => tmp.cleanup());

test('a line larger than the bound alone: dropped, said, and the log counts as written', async () => {
  ensureBuilt();
  const script = join(tmp.dir, 'oversize.mjs');
  writeFileSync(
    script,
    `import { createLogger, logWritten, MAX_WAITING_BYTES } from ${JSON.stringify(LOG)};
const logger = createLogger({ format: 'json', level: 'warn' });
logger.error({ blob: 'x'.repeat(MAX_WAITING_BYTES + 1) }, 'too large');
await logWritten(logger);
process.stderr.write('written\\n');
`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const code = await Promise.race([exited, sleep(10_000).then(() => 'still waiting')]);
  if (code === 'still waiting') child.kill('SIGKILL');
  // Before: 'still waiting', nothing on stdout.
  expect({ code, err }).toEqual({ code: 0, err: 'written\n' });
  const lines = out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ level: 40, droppedLines: 1 });
}, 20_000);
