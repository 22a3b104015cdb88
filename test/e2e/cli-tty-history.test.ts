/**
 * Found by a review of e82ca20: the two answers of `regauth hash` shared readline's history, so
 * Up and Enter at `Again:` repeated the first answer without the user typing it again, and the
 * confirmation confirmed nothing. The prompt keeps no history now.
 */
import { spawn } from 'node:child_process';
import { beforeAll, expect, test } from 'vitest';
import { CLI, needTerminal, ROOT, word } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('Up and Enter at Again: do not repeat the first answer', async () => {
  const command = [process.execPath, CLI, 'hash', '--cost', '4'].map(word).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TERM: 'xterm' },
  });
  let screen = '';
  let step = 0;
  const onData = (d: Buffer) => {
    screen += d.toString('latin1');
    if (step === 0 && screen.includes('Password:')) {
      step = 1;
      child.stdin.write('first-answer\r');
    } else if (step === 1 && screen.includes('Again:')) {
      step = 2;
      child.stdin.write('\u001b[A\r'); // Up, Enter
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
  clearTimeout(timer);
  expect(screen).not.toMatch(/\$2b\$04\$/);
  expect(code).toBe(2);
  expect(screen).toContain('regauth: the two passwords differ');
}, 30_000);
