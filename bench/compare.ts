/**
 * `npm run bench:compare -- DIR_A DIR_B [DIR …]`: two or more builds of regauth side by side,
 * for a before/after figure that a busy machine does not swamp. Each DIR is a checkout with
 * `dist/` built (`git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci && npm
 * run build)`). Every build serves the same config (one static user, the bench's ACL); each is
 * driven by autocannon in turn (64 connections, 3 s rounds, the order reversed every other round
 * so a slow patch of the machine falls on all), after a warm-up of WARMUP_REQUESTS requests
 * each. Printed per build: the CPU per cached token of the whole process and of its event-loop
 * thread (the thread that bounds tokens/s), least and median over the rounds, and the median
 * tokens/s. Other processes only ever add CPU time, so the least is the steadier figure.
 * Loopback only; not part of `npm test`.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import bcrypt from 'bcryptjs';
import { freePort } from '../test/e2e/harness/ports.js';
import { tempDir, writeSigningKey } from '../test/helpers/fixtures.js';
import {
  benchConfig,
  cpuMeter,
  log,
  spawnRegauth,
  TOKEN_PATH,
  waitHealthy,
  WARMUP_REQUESTS,
} from './harness.js';

const SECONDS = 3;
const CONNECTIONS = 64;

interface Build {
  readonly dir: string;
  readonly url: string;
  readonly pid: number;
  readonly cpu: number[];
  readonly loop: number[];
  readonly rps: number[];
}

async function main(): Promise<void> {
  const roundCount = rounds(process.env['BENCH_ROUNDS']);
  const dirs = process.argv.slice(2).map((d) => resolve(d));
  if (dirs.length < 2) {
    throw new Error('usage: npm run bench:compare -- DIR_A DIR_B [DIR …] (checkouts with dist/ built)');
  }
  for (const dir of dirs) {
    if (!existsSync(join(dir, 'dist/cli/main.js'))) {
      throw new Error(`${dir}: no dist/cli/main.js; run npm run build there first`);
    }
  }
  const tmp = tempDir('regauth-bench-compare-');
  const children: ChildProcess[] = [];
  try {
    const { keyPath, certPath } = await writeSigningKey(tmp.dir, 'ES256');
    const password = `bench-${Math.random().toString(36).slice(2)}`;
    const hash = await bcrypt.hash(password, 10);
    const authorization = `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`;
    const builds: Build[] = [];
    for (const [i, dir] of dirs.entries()) {
      const port = await freePort();
      const configFile = join(tmp.dir, `config-${i}.yml`);
      writeFileSync(configFile, benchConfig({ port, keyPath, certPath, users: new Map([['alice', hash]]) }));
      const child = spawnRegauth(dir, configFile, tmp.dir);
      children.push(child);
      const url = `http://127.0.0.1:${port}`;
      await waitHealthy(url, child);
      // One login fills the credential cache; every request after it is a cached issuance.
      const first = await fetch(url + TOKEN_PATH, { headers: { authorization } });
      if (first.status !== 200) throw new Error(`${dir} answered ${first.status} to the first login`);
      builds.push({ dir, url, pid: child.pid!, cpu: [], loop: [], rps: [] });
    }
    log(`warm-up: ${builds.length} builds, ${WARMUP_REQUESTS.toLocaleString('en-US')} requests each …`);
    for (const build of builds) await drive(build, authorization, WARMUP_REQUESTS);
    for (let round = 0; round < roundCount; round++) {
      log(`round ${round + 1}/${roundCount} …`);
      for (const build of round % 2 === 0 ? builds : [...builds].reverse()) {
        const figures = await drive(build, authorization);
        build.cpu.push(figures.cpu);
        build.loop.push(figures.loop);
        build.rps.push(figures.rps);
      }
    }
    report(builds, roundCount);
  } finally {
    await Promise.all(children.map(stop));
    tmp.cleanup();
  }
}

/** BENCH_ROUNDS: a whole number of rounds, at least 1 (default 12). */
function rounds(text: string | undefined): number {
  if (text === undefined) return 12;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`BENCH_ROUNDS must be a whole number ≥ 1, not ${JSON.stringify(text)}`);
  return n;
}

/** SIGTERM, then SIGKILL if the child has not exited within 5 s; resolves once it has. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/**
 * One round (given `requests`, so many requests): CPU per token of the process and of its
 * event-loop thread, and tokens/s.
 */
async function drive(
  build: Build,
  authorization: string,
  requests?: number,
): Promise<{ cpu: number; loop: number; rps: number }> {
  const perToken = cpuMeter(build.pid);
  const result = await autocannon({
    url: build.url + TOKEN_PATH,
    connections: CONNECTIONS,
    ...(requests === undefined ? { duration: SECONDS } : { amount: requests }),
    headers: { authorization },
  });
  if (result.errors + result.timeouts + result.non2xx > 0) {
    throw new Error(
      `${build.dir}: under load, ${result.non2xx} answers other than 2xx, ${result.timeouts} timeouts, ${result.errors} connection errors`,
    );
  }
  const { cpuUs, loopUs } = perToken(result.requests.total);
  return { cpu: cpuUs, loop: loopUs, rps: result.requests.average };
}

function report(builds: readonly Build[], roundCount: number): void {
  const least = (v: readonly number[]) => Math.min(...v);
  const median = (v: readonly number[]) => {
    const sorted = [...v].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const rows = builds.map((b) => [
    b.dir,
    `${least(b.cpu).toFixed(0)} / ${median(b.cpu).toFixed(0)} µs`,
    `${least(b.loop).toFixed(0)} / ${median(b.loop).toFixed(0)} µs`,
    `${median(b.rps).toFixed(0)}`,
    `${((least(b.cpu) / least(builds[0]!.cpu) - 1) * 100).toFixed(1)} %`,
  ]);
  const header = [
    'build',
    'CPU/token, least / median',
    'event loop, least / median',
    'tokens/s',
    'least vs first',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(
    `\nregauth bench:compare: ${roundCount} rounds of ${SECONDS} s, ${CONNECTIONS} connections, cached login`,
  );
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

try {
  await main();
} catch (err) {
  console.error(`bench:compare: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
