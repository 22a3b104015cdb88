/**
 * Found by a review of fbd7b2d ("Keep echo off with stderr redirected; refuse Ctrl-D and bad bytes"):
 * src/cli/prompt.ts now asks on node's readline (terminal mode), one Interface per answer.
 *
 * - Both answers arriving in one read (a paste of "pw⏎pw⏎", a password manager's auto-type, an
 *   expect script that does not wait): the first Interface emits 'line' for both, the second
 *   answer is dropped with it when it closes, and "Again:" waits for an answer already given.
 *   A terminal in cooked mode (htpasswd, passwd) keeps type-ahead for the next read.
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

test('both answers typed ahead in one go ("pw⏎pw⏎"): the second is not dropped, hash prints', async () => {
  const password = 'typed-ahead-twice';
  const run = await onTerminal(regauth('hash --cost 4'), async ({ type, until }) => {
    await until('Password:');
    type(`${password}\r${password}\r`);
  });
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  // It was: "Again:" shown, then nothing until the 15 s kill (code null).
  expect({ code: run.code, hashed: printed !== undefined && bcrypt.compareSync(password, printed) }).toEqual({
    code: 0,
    hashed: true,
  });
}, 30_000);
