/**
 * Found by a review of 9740aec ("Ask for passwords on a terminal without echoing them"): `regauth hash` and
 * `check --password-stdin` read a typed password through npm's `read` (src/cli/prompt.ts), with
 * `output: process.stderr`.
 *
 * - `read` turns the terminal's echo off (readline's raw mode) only when its *output* is a TTY
 *   (`terminal = !!(terminal || output.isTTY)`). With stdin a terminal and stderr redirected
 *   (`regauth hash 2>/dev/null`, `2>>log`), nothing turns echo off: the password is shown as it is
 *   typed, in clear, in the scrollback — what the commit set out to stop.
 * - readline decodes the typed bytes as UTF-8, each invalid byte becoming U+FFFD. The piped path
 *   refuses a password that is not UTF-8 (processIO.readStdin); the typed path hashes the
 *   replacement characters: on a Latin-1 terminal `secreté` and `secretè` are "the same" (the
 *   confirmation passes) and the hash printed is of neither.
 * - Ctrl-D at the prompt closes readline without a 'line' or 'SIGINT': `read`'s promise never
 *   settles, and node ends with exit code 13 (unsettled top-level await) and no message, where
 *   prompt.ts says "read rejects when the prompt is cancelled (Ctrl-C, Ctrl-D)" and the documented
 *   codes are 0, 1, 2, 3, 70.
 *
 * Runs the built CLI on a pseudo-terminal from script(1), as test/e2e/cli-tty.test.ts does.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CLI, needTerminal, ROOT, word } from './harness/terminal.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-cli-tty-edge-');
afterAll(() => tmp.cleanup());

beforeAll(needTerminal, 180_000);

/**
 * Runs `shell` (a sh command line) on script(1)'s terminal. Each of `typed` (raw bytes, Enter
 * included when wanted) is typed once `after` has shown up for the (n+1)th time in what
 * `watched()` returns (default: the screen). Resolves with the screen (latin1, byte for byte) and
 * the exit code.
 */
async function onTerminal(
  shell: string,
  typed: readonly { after: string; bytes: Buffer }[],
  watched?: () => string,
): Promise<{ code: number | null; screen: string }> {
  const child = spawn('script', ['-qec', shell, '/dev/null'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TERM: 'dumb' },
  });
  let screen = '';
  let next = 0;
  const source = watched ?? (() => screen);
  const countBefore = (n: number) => typed.slice(0, n).filter((t) => t.after === typed[n]!.after).length;
  const progress = () => {
    while (next < typed.length && source().split(typed[next]!.after).length > countBefore(next) + 1) {
      child.stdin.write(typed[next]!.bytes);
      next++;
    }
  };
  child.stdout.on('data', (d: Buffer) => {
    screen += d.toString('latin1');
    progress();
  });
  child.stderr.on('data', (d: Buffer) => (screen += d.toString('latin1')));
  const poll = setInterval(progress, 50);
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
  clearInterval(poll);
  clearTimeout(timer);
  return { code, screen };
}

const regauth = (args: string) => `${word(process.execPath)} ${word(CLI)} ${args}`;
const line = (text: string) => Buffer.from(`${text}\r`, 'latin1');

test('stderr redirected: the prompt shows on the terminal (stdout), the password typed is not echoed', async () => {
  const log = join(tmp.dir, 'stderr.log');
  const password = 'Tr0ub4dor-and-3';
  const run = await onTerminal(`${regauth('hash --cost 4')} 2>${word(log)}`, [
    { after: 'Password:', bytes: line(password) },
    { after: 'Again:', bytes: line(password) },
  ]);
  expect(run.code).toBe(0);
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  expect(printed && bcrypt.compareSync(password, printed)).toBe(true);
  // What the commit promises: "nothing typed is echoed".
  expect(run.screen).not.toContain(password);
  expect(readFileSync(log, 'latin1')).not.toContain(password);
}, 30_000);

test('typed bytes that are not UTF-8 are refused as piped ones are, not hashed as U+FFFD', async () => {
  // A Latin-1 terminal: é is 0xE9, è is 0xE8. Two different passwords.
  const run = await onTerminal(regauth('hash --cost 4'), [
    { after: 'Password:', bytes: line('secret\u00e9') },
    { after: 'Again:', bytes: line('secret\u00e8') },
  ]);
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  // It was: exit 0, the confirmation "matched", and the hash was that of "secret\uFFFD".
  expect({
    code: run.code,
    hashOfReplacementChar: printed !== undefined && bcrypt.compareSync('secret\uFFFD', printed),
  }).toEqual({ code: 2, hashOfReplacementChar: false });
  expect(run.screen).toMatch(/not UTF-8|differ/);
}, 30_000);

test('Ctrl-D at the prompt is a one-line refusal with exit 2, as Ctrl-C is', async () => {
  const run = await onTerminal(regauth('hash --cost 4'), [
    { after: 'Password:', bytes: Buffer.from('\u0004') },
  ]);
  expect({ code: run.code, said: /regauth: no password given/.test(run.screen) }).toEqual({
    code: 2,
    said: true,
  });
}, 30_000);

test('each answer ends its line: the hash is printed on a line of its own', async () => {
  const run = await onTerminal(regauth('hash --cost 4'), [
    { after: 'Password:', bytes: line('one-two-three') },
    { after: 'Again:', bytes: line('one-two-three') },
  ]);
  expect(run.code).toBe(0);
  expect(run.screen).toMatch(/Password: *\r?\n/);
  expect(run.screen).toMatch(/Again: *\r?\n\$2b\$04\$/);
}, 30_000);
