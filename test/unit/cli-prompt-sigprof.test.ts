/**
 * Found by a review of 91651f0 (src/cli/prompt.ts FATAL_SIGNALS): SIGPROF is now caught while the
 * prompt reads, and re-raised. But SIGPROF is the signal V8's own sampling profiler sends the
 * process (node --cpu-prof, --prof, NODE_OPTIONS=--cpu-prof, the inspector's profiler), every
 * millisecond; nothing outside the process sends it to end it. Under a profiler:
 *
 * - during the prompt, libuv's handler replaces V8's; the next sample is taken as a fatal signal
 *   and the process kills itself ("Profiling timer expired", status 128+27) before any answer;
 * - after the prompt, process.off() leaves SIGPROF at SIG_DFL (libuv does not restore V8's
 *   handler), so the next sample kills the process anyway, its profile unwritten.
 *
 * So `node --cpu-prof dist/cli/main.js hash` (profiling the bcrypt cost) cannot get past the
 * prompt. Without a listener for SIGPROF it works (as before 91651f0).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const prompt = fileURLToPath(new URL('../../src/cli/prompt.ts', import.meta.url));

test('typedPassword under node --cpu-prof: the answer is read and the process ends normally', () => {
  const dir = mkdtempSync(join(tmpdir(), 'review-prompt3-'));
  try {
    // A terminal stand-in for stdin (setRawMode, isRaw); the answer arrives after some busy time,
    // and the process stays busy a little after the prompt too.
    const script = `
      import { PassThrough } from 'node:stream';
      const stdin = new PassThrough();
      Object.assign(stdin, { isTTY: true, isRaw: false, setRawMode(on) { stdin.isRaw = on; return stdin; } });
      Object.defineProperty(process, 'stdin', { value: stdin, configurable: true });
      const { typedPassword } = await import(${JSON.stringify(prompt)});
      const spin = (ms) => { const end = Date.now() + ms; while (Date.now() < end); };
      const answer = typedPassword(false);
      const timer = setInterval(() => spin(20), 1);
      setTimeout(() => stdin.write('secret\\r'), 400);
      const got = await answer;
      spin(400);
      clearInterval(timer);
      process.stdout.write('answer=' + got + '\\n');
    `;
    const run = spawnSync(
      process.execPath,
      ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 30_000 },
    );
    // Fails now: { signal: 'SIGPROF', status: null, stdout: '' } and no profile written.
    expect({ signal: run.signal, status: run.status, stdout: run.stdout }).toEqual({
      signal: null,
      status: 0,
      stdout: 'answer=secret\n',
    });
    expect(readdirSync(dir).some((f) => f.endsWith('.cpuprofile'))).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
