/**
 * Found by a review of the life of `regauth serve`: what a log line that cannot be written does.
 *
 * The log goes to stdout through pino's asynchronous destination (src/core/log.ts:143,
 * `pino.destination({dest: 1, sync: false, ...})`). pino handles EPIPE on it (a reader gone: lines
 * are dropped) and re-emits any other write error with no listener left: an uncaught exception
 * from inside the fs callback. The process then runs its 'exit' handlers, among them pino's
 * last flush (flushSync), and sonic-boom's flushSync retries every write error that is not
 * EAGAIN/EBUSY every 100 ms, for ever (Atomics.wait on the main thread). stdout on a full disk
 * (`regauth serve >> /var/log/regauth.log`, systemd's `StandardOutput=append:`, a full volume
 * under a log file) gives ENOSPC on the first line written after it filled: from then on the
 * process neither serves nor exits. Every connection hangs (the kernel still accepts them, so a
 * supervisor sees a live process), /healthz never answers, SIGTERM is not acted on (the
 * documented "SIGTERM ... exits 0", docs/operations.md "Shutdown"), and nothing is said on
 * stderr. The bar: a request (its audit line) must never take the process down; here it takes
 * it down without even ending it. /dev/full stands for the full disk (every write: ENOSPC).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { sleep } from '../helpers/wait.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const tmp = tempDir('regauth-log-enospc-');
afterAll(() => tmp.cleanup());

function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

/** The status of a GET, or what went wrong (`timeout` when nothing answered within `ms`). */
async function status(url: string, ms = 2_000): Promise<number | string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(ms) });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    return (err as Error).name === 'TimeoutError' ? 'timeout' : String((err as Error).cause ?? err);
  }
}

// Found by a review of the fix: where stdout is on a full disk, stderr often is too (`serve >> file
// 2>&1`, systemd's append: with StandardError=inherit); the saying of it threw ENOSPC out of the
// error listener, and the process ended at its first log line.
test.each(['pipe', 'full'] as const)(
  'stdout that fails with ENOSPC (a full disk), stderr to %s: the server keeps answering, and SIGTERM still ends it',
  async (stderrTo) => {
    // /dev/full is part of every Linux system this runs on; a test that cannot run must fail.
    expect(existsSync('/dev/full')).toBe(true);
    ensureBuilt();
    const dir = join(tmp.dir, stderrTo);
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
    const full = openSync('/dev/full', 'w');
    const child = spawn(process.execPath, [MAIN, 'serve', '-c', configFile], {
      stdio: ['ignore', full, stderrTo === 'full' ? full : 'pipe'],
    });
    closeSync(full);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const url = `http://127.0.0.1:${port}`;
    try {
      // Started: the port is bound (connections are accepted) within 15 s.
      let first: number | string = 'not started';
      for (const end = Date.now() + 15_000; Date.now() < end;) {
        first = await status(`${url}/healthz`, 1_000);
        if (first === 200 || first === 'timeout') break;
        await sleep(100);
      }
      // A token request: its audit line is one more line that cannot be written.
      const token = await status(`${url}/auth?service=x&scope=repository:a:pull`);
      await sleep(500);
      const after = [await status(`${url}/healthz`), await status(`${url}/readyz`)];
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(12_000).then(() => 'still running')]);
      // Before the fix: the first /healthz (or the one after the request) never answered
      // ('timeout'), and the process ignored SIGTERM ('still running'), with nothing on stderr.
      expect({ first, token, after, endsOnSigterm: code !== 'still running' }, stderr).toEqual({
        first: 200,
        token: 200,
        after: [200, 200],
        endsOnSigterm: true,
      });
      expect(code).toBe(0);
      // Said once, on stderr (where stderr can be written).
      if (stderrTo === 'pipe')
        expect(stderr.match(/the log cannot be written to stdout \(ENOSPC\)/g)).toHaveLength(1);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  },
  60_000,
);
