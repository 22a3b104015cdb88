/**
 * Found by a review of fbd7b2d ("Keep echo off with stderr redirected; refuse Ctrl-D and bad bytes"):
 * src/cli/prompt.ts now asks on node's readline (terminal mode), one Interface per answer.
 *
 * - TERM=dumb: readline's dumb mode appends Backspace (and Ctrl-Z, Ctrl-U…) to the answer (npm's read
 *   did the same; the rewrite kept it).
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

test('TERM=dumb: Backspace edits the typed password, it is not hashed as a DEL character', async () => {
  // node's readline in a dumb terminal (TERM=dumb) handles only Enter, Ctrl-C and Ctrl-D: every
  // other byte, Backspace (0x7f) included, is appended to the answer. The user fixes a typo, and
  // the hash printed is of "abcx\x7f", a password nobody can type at the registry's login.
  const run = await onTerminal(regauth('hash --cost 4'), async ({ type, until }) => {
    await until('Password:');
    type('abcx\u007f\r');
    await until('Again:');
    type('abcx\u007f\r');
  });
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  expect({
    code: run.code,
    hashOfTypo: printed !== undefined && bcrypt.compareSync('abcx\u007f', printed),
  }).not.toEqual({ code: 0, hashOfTypo: true });
}, 30_000);
