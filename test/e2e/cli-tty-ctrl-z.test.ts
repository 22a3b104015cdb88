/**
 * Found by a review of fbd7b2d ("Keep echo off with stderr redirected; refuse Ctrl-D and bad bytes"):
 * src/cli/prompt.ts now asks on node's readline (terminal mode), one Interface per answer.
 *
 * - Ctrl-Z at the prompt, then `fg`: readline's own Ctrl-Z handling (no 'SIGTSTP' listener) stops
 *   the process, and on SIGCONT *pauses* the Interface ("Stream must be paused and resumed"),
 *   which ask() never resumes. stdin paused, nothing else pending: node ends with 13 (unsettled
 *   top-level await), silently, the way the commit says Ctrl-D used to. What the user goes on
 *   typing (the rest of the password and Enter) reaches the shell.
 *
 * Runs the built CLI on script(1)'s pseudo-terminal, as test/e2e/cli-tty-edge.test.ts does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import bcrypt from 'bcryptjs';
import { beforeAll, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = resolve(ROOT, 'dist/cli/main.js');

beforeAll(() => {
  ensureBuilt();
  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (script.status !== 0) throw new Error('script(1) from util-linux is needed: run scripts/test-peers.sh');
}, 180_000);

const word = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const regauth = (args: string) => `${word(process.execPath)} ${word(CLI)} ${args}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A shell line on script(1)'s terminal; `drive` types into it. Resolves with screen and exit code. */
async function onTerminal(
  shell: string,
  drive: (io: {
    screen: () => string;
    type: (s: string) => void;
    until: (s: string, n?: number) => Promise<void>;
  }) => Promise<void>,
  term = 'dumb',
): Promise<{ code: number | null; screen: string }> {
  const child = spawn('script', ['-qec', shell, '/dev/null'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TERM: term },
  });
  let screen = '';
  child.stdout.on('data', (d: Buffer) => (screen += d.toString('latin1')));
  child.stderr.on('data', (d: Buffer) => (screen += d.toString('latin1')));
  const closed = new Promise<number | null>((done) => child.on('close', (c) => done(c)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const until = async (s: string, n = 1) => {
    for (let i = 0; i < 200 && screen.split(s).length <= n; i++) await sleep(50);
  };
  await drive({ screen: () => screen, type: (s) => child.stdin.write(Buffer.from(s, 'latin1')), until });
  const code = await closed;
  clearTimeout(timer);
  return { code, screen };
}

test('Ctrl-Z at the prompt is ignored: the prompt goes on, nothing reaches the shell', async () => {
  // An interactive bash with job control on the terminal, as an operator's shell. (Ctrl-Z used to
  // stop regauth, and `fg` then ended it with exit 13; where nothing can stop it, the rest of the
  // password was echoed: test/e2e/cli-tty-ctrl-z-no-job-control.test.ts.)
  const password = 'suspend-and-resume';
  const run = await onTerminal(
    `PS1='PROMPT$ ' HISTFILE=/dev/null bash --norc --noprofile -i`,
    async ({ type, until }) => {
      await until('PROMPT$ ');
      type(`${regauth('hash --cost 4')}\r`);
      await until('Password:');
      type('suspend-');
      await sleep(200);
      type('\u001a'); // Ctrl-Z
      await sleep(500);
      type('and-resume\r'); // the rest of the password, as the user goes on typing
      await until('Again:');
      type(`${password}\r`);
      await sleep(1500);
      type('exit\r');
    },
    // Not dumb: node's readline handles Ctrl-Z (and Backspace) only on a terminal it can drive.
    'xterm',
  );
  expect(run.screen).not.toMatch(/Stopped/);
  expect(run.screen).not.toMatch(/rc=13/);
  expect(run.screen).not.toMatch(/and-resume: command not found/);
  expect(run.screen).not.toContain(password);
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  expect(printed !== undefined && bcrypt.compareSync(password, printed)).toBe(true);
}, 30_000);
