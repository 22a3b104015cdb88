/**
 * Found by a review of e82ca20 (src/cli/prompt.ts, edited()): TERM=dumb applies Backspace only.
 *
 * With TERM=dumb node's readline appends every byte but Enter, Ctrl-C and Ctrl-D to the answer.
 * e82ca20 applies DEL and BS afterwards, but not the terminal's other line-editing characters:
 * Ctrl-U (kill the line, VKILL) and Ctrl-W (erase a word, VWERASE), which a cooked terminal (and
 * every password prompt the user knows: passwd, htpasswd, sudo) applies. The test this commit
 * fixed named them ("Backspace (and Ctrl-Z, Ctrl-U…) is appended"). A user who starts again with
 * Ctrl-U gets the hash of "wrong\x15right": a password nobody can type at the registry's login
 * (or, with the confirmation typed plainly, "the two passwords differ").
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

test('TERM=dumb: Ctrl-U starts the line again, it is not hashed as part of the password', async () => {
  const run = await onTerminal(regauth('hash --cost 4'), async ({ type, until }) => {
    await until('Password:');
    type('wrong\u0015right\r');
    await until('Again:');
    type('wrong\u0015right\r');
    await sleep(1500);
  });
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  // It is: exit 0 with the hash of "wrong\x15right"; "right" does not verify.
  expect({
    code: run.code,
    hashOfRight: printed !== undefined && bcrypt.compareSync('right', printed),
    hashOfKillChar: printed !== undefined && bcrypt.compareSync('wrong\u0015right', printed),
  }).toEqual({ code: 0, hashOfRight: true, hashOfKillChar: false });
}, 30_000);
