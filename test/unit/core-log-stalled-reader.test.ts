/**
 * A stdout reader that falls behind (a log shipper down, Docker's blocking log mode behind a slow
 * driver, `serve | tool` where the tool stalls): pino's asynchronous destination keeps every line
 * it cannot write yet in memory, with no bound. Anyone can make the lines large: an anonymous
 * token request of 16 KiB of scopes writes an audit line of about three times that (the scopes
 * requested, granted and decided), so a client could grow the process until the kernel kills it,
 * every line held in it lost with it. The lines waiting are bounded now: past the bound a line is
 * dropped and counted, and once stdout is written again one line says how many were dropped.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { imageNodeFlags } from '../helpers/image.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { sleep, until } from '../helpers/wait.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');
const tmp = tempDir('regauth-log-stalled-');
afterAll(() => tmp.cleanup());

function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

function rssMiB(pid: number): number {
  const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib) / 1024;
}

test.each(['json', 'pretty'] as const)(
  'a stdout reader that takes nothing (log.format %s): the lines waiting for it stay bounded, and the drop is said',
  async (format) => {
    ensureBuilt();
    const dir = join(tmp.dir, format);
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
log: {format: ${format}}
`,
    );
    // As the image runs it: its node flags keep the heap that a burst grows smaller (beside the
    // whole suite, without them, the pretty case once grew by 107 MiB even after the wait below).
    const child = spawn(process.execPath, [...imageNodeFlags(ROOT), MAIN, 'serve', '-c', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Each line is a buffer of about 45 KB, which glibc carves from its heap, where memory freed
      // stays in the process; mapped on its own, a line's memory leaves the process once the line
      // is collected, so RSS counts the lines held, not the most that were ever waiting for a GC.
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: String(16 * 1024) },
    });
    // Nothing reads stdout until the end: the pipe fills, and every line after that waits in regauth.
    child.stdout.pause();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const url = `http://127.0.0.1:${port}`;
    // 64 scopes (the most a request may ask) of about 220 characters: under the 16 KiB header limit;
    // the audit line about 45 KB.
    const scopes = Array.from({ length: 64 }, (_, i) => `scope=repository:${'a'.repeat(200)}/n${i}:pull`);
    const target = `${url}/auth?service=x&${scopes.join('&')}`;
    const burst = async (count: number) => {
      let next = 0;
      const statuses = new Set<number>();
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next++ < count) {
            const res = await fetch(target);
            await res.arrayBuffer();
            statuses.add(res.status);
          }
        }),
      );
      return [...statuses];
    };
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
      // Warmed up, and the pipe full already.
      expect(await burst(300)).toEqual([200]);
      const before = rssMiB(child.pid!);
      // About 180 MB of audit lines for a reader that takes none of them.
      expect(await burst(4000)).toEqual([200]);
      // Before: it grew by the lines held (180 MB and more), for good. The bound is 16 MiB; the same
      // load with a reader that keeps up grows the process by about 50 MiB (its heap). On a loaded
      // machine the collector lags behind the burst and more garbage is still there when it ends
      // (130 MiB once beside the whole suite): given the time to collect it, the process shrinks
      // back, which lines it held could never do.
      let grown = rssMiB(child.pid!) - before;
      await until(() => (grown = rssMiB(child.pid!) - before) < 100, 20_000);
      expect(grown, `RSS grew by ${grown.toFixed(0)} MiB`).toBeLessThan(100);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      // The reader comes back: what waited is written, then one line says how many were dropped,
      // and the next request's audit line follows it.
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stdout.resume();
      await sleep(1000);
      expect((await fetch(`${url}/auth?service=x&scope=repository:after:pull`)).status).toBe(200);
      expect(await until(() => out.includes('repository:after:pull'), 10_000)).toBe(true);
      if (format === 'pretty') {
        expect(out.match(/\d+ log lines dropped/g)).toHaveLength(1);
      } else {
        const lines = out.split('\n').filter((l) => l.startsWith('{'));
        for (const line of lines) expect(() => JSON.parse(line) as unknown, line.slice(0, 200)).not.toThrow();
        const notices = lines
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((r) => 'droppedLines' in r);
        expect(notices).toHaveLength(1);
        expect(notices[0]).toMatchObject({ level: 40 });
        expect(notices[0]!['droppedLines']).toBeGreaterThan(100);
        expect(String(notices[0]!['msg'])).toMatch(/^\d+ log lines dropped/);
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  },
  120_000,
);
