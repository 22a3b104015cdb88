/**
 * Found by a review of ddac3a7. src/cli/prompt.ts ask(): the part of the second answer typed ahead before `Again:` is shown (a
 * paste of "pw⏎pw" whose last Enter is typed by hand, an auto-type that arrives in one read) is
 * already in readline's line when rl.prompt() runs with output unmuted, and prompt() redraws the
 * prompt WITH the line: the password is printed in clear ("Again: secret-typed-ahead").
 */
import { spawn } from 'node:child_process';
import { beforeAll, expect, test } from 'vitest';
import { CLI, needTerminal, ROOT, sleep, word } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('xterm: a second answer typed ahead of Again: is not echoed', async () => {
  const child = spawn(
    'script',
    ['-qec', `${word(process.execPath)} ${word(CLI)} hash --cost 4`, '/dev/null'],
    {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, TERM: 'xterm' },
    },
  );
  let screen = '';
  child.stdout.on('data', (d: Buffer) => (screen += d.toString('latin1')));
  child.stderr.on('data', (d: Buffer) => (screen += d.toString('latin1')));
  const closed = new Promise<number | null>((done) => child.on('close', (c) => done(c)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  for (let i = 0; i < 200 && !screen.includes('Password:'); i++) await sleep(50);
  child.stdin.write('secret-typed-ahead\rsecret-typed-ahead'); // one read: first answer, most of the second
  for (let i = 0; i < 100 && !screen.includes('Again:'); i++) await sleep(50);
  await sleep(300);
  child.stdin.write('\r');
  const code = await closed;
  clearTimeout(timer);
  expect(code).toBe(0);
  // Fails here: the screen holds "Again: secret-typed-ahead".
  expect(screen).not.toContain('secret-typed-ahead');
}, 30_000);
