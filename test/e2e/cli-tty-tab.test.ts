/**
 * Found by a review of 71a0c89 (src/cli/prompt.ts:76): the control-character refusal, meant for editing keys
 * a TERM=dumb terminal did not apply, also refuses Tab. On a normal terminal (xterm) readline puts
 * a typed Tab into the line as a character (no completer), as a cooked terminal, `docker login`'s
 * prompt and the piped path (`printf 'a\tb' | regauth hash`) all do. Before 71a0c89 the hash of
 * "pass\tword" was printed; now `regauth hash` exits 2 ("holds a control character").
 */
import { spawn } from 'node:child_process';
import bcrypt from 'bcryptjs';
import { beforeAll, expect, test } from 'vitest';
import { CLI, needTerminal, ROOT, sleep, word } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('xterm: a password holding a Tab is hashed, as when piped in', async () => {
  const child = spawn(
    'script',
    ['-qec', `${word(process.execPath)} ${word(CLI)} hash --cost 4`, '/dev/null'],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } },
  );
  let screen = '';
  child.stdout.on('data', (d: Buffer) => (screen += d.toString('latin1')));
  child.stderr.on('data', (d: Buffer) => (screen += d.toString('latin1')));
  const closed = new Promise<number | null>((done) => child.on('close', (c) => done(c)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  for (let i = 0; i < 200 && !screen.includes('Password:'); i++) await sleep(50);
  child.stdin.write('pass\tword\r');
  for (let i = 0; i < 100 && !screen.includes('Again:') && !screen.includes('control'); i++) await sleep(50);
  child.stdin.write('pass\tword\r');
  await sleep(1500);
  const code = await closed;
  clearTimeout(timer);
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(screen)?.[0];
  expect({
    refused: /control character/.test(screen),
    hashOfTyped: printed !== undefined && bcrypt.compareSync('pass\tword', printed),
    code,
  }).toEqual({ refused: false, hashOfTyped: true, code: 0 });
}, 60_000);
