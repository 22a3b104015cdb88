/**
 * Found by a review of 1df34bc (log: at most 16 MiB of lines wait for a stdout reader that lags).
 *
 * docs/operations.md: SIGTERM "exits 0 once the log is written out: every audit line of the
 * requests answered reaches stdout first, even while its reader (a log shipper) lags (but for
 * lines dropped past the 16 MiB that may wait for it)", and once stdout is written again "one
 * warning says how many" were dropped.
 *
 * A reader that lags past LOG_FLUSH_MS (5 s) after SIGTERM (a log shipper slow to drain the
 * 16 MiB now allowed to wait, `docker stop` behind a slow driver) meets process.exit(): pino's
 * exit flush (sonic-boom flushSync) writes the lines queued, but not the write in flight (its
 * rest is skipped while `_writing`), and it emits no 'write' event, so the drop warning, said
 * only after one, is never said.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { sleep } from '../helpers/wait.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const tmp = tempDir('regauth-review-log-exit-');
afterAll(() => tmp.cleanup());

function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

const REQUESTS = 700;
let out = '';
let exitCode: number | null = null;

beforeAll(async () => {
  ensureBuilt();
  const dir = join(tmp.dir, 'json');
  mkdirSync(dir);
  const keys = await writeSigningKey(dir);
  const port = await freePort();
  const configFile = join(dir, 'config.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:${port}"}
token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}
users: {"": {}}
acl: [{match: {}, actions: [pull]}]
log: {format: json}
`,
  );
  const child = spawn(process.execPath, [MAIN, 'serve', '-c', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pause();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  try {
    let started = false;
    for (let i = 0; i < 150 && !started && child.exitCode === null; i++) {
      started = await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!started) await sleep(100);
    }
    expect(started, stderr).toBe(true);
    // About 45 KB of audit line each: some 30 MB for a reader that takes nothing, so lines are
    // dropped past the 16 MiB that may wait.
    const scopes = Array.from({ length: 64 }, (_, i) => `scope=repository:${'a'.repeat(200)}/n${i}:pull`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next++ < REQUESTS) {
          const res = await fetch(`${url}/auth?service=x&${scopes.join('&')}`);
          await res.arrayBuffer();
        }
      }),
    );
    child.kill('SIGTERM');
    // The reader lags past the 5 s a stopping serve waits for its log before process.exit().
    await sleep(7000);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout.resume();
    exitCode = await Promise.race([exited, sleep(30_000).then(() => 'timeout' as never)]);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
}, 120_000);

test('a reader lagging at exit: no line is cut short (every line read is whole JSON)', () => {
  expect(exitCode).toBe(0);
  const lines = out.split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(100);
  const broken = lines.filter((l) => {
    try {
      JSON.parse(l);
      return false;
    } catch {
      return true;
    }
  });
  expect(
    broken.map(
      (l) =>
        `${l.length} chars, a line starts again at ${l.indexOf('{"level"', 1)}: ${l.slice(0, 80)} … ${l.slice(-80)}`,
    ),
    'lines that are not whole JSON',
  ).toEqual([]);
});

test('a reader lagging at exit: the lines dropped are said before the process ends', () => {
  const notices = out
    .split('\n')
    .filter((l) => l.includes('droppedLines'))
    .map((l) => l.slice(0, 300));
  expect(notices, 'a warning with droppedLines').toHaveLength(1);
});
