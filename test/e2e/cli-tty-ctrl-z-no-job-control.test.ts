/**
 * Found by a review of e82ca20 (src/cli/prompt.ts): Ctrl-Z where nothing can stop the process.
 *
 * readline's own Ctrl-Z handling (no 'SIGTSTP' listener on the Interface) turns raw mode OFF and
 * sends itself SIGTSTP, relying on SIGCONT to turn it back on. Where the process cannot be
 * stopped, the SIGTSTP is discarded and no SIGCONT ever comes: in an orphaned process group
 * (no job-control shell: `ssh -t host regauth hash`, `script -c`), and as PID 1 in a container
 * (`docker run --rm -it regauth hash`, docs/deployment.md; the image's ENTRYPOINT is node). The
 * terminal is then left in cooked mode with ECHO on for the rest of the prompt: whatever the user
 * types next (the rest of the password, the confirmation) is shown in clear on the screen.
 *
 * Here the CLI runs directly under script(1) (sh -c, no job control: an orphaned process group,
 * where Linux discards SIGTSTP exactly as for a container's PID 1).
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

test('Ctrl-Z where the process cannot be stopped: what is typed next is not echoed in clear', async () => {
  const run = await onTerminal(
    regauth('hash --cost 4'),
    async ({ type, until }) => {
      await until('Password:');
      type('abc');
      await sleep(200);
      type('\u001a'); // Ctrl-Z: readline turns echo back on and sends SIGTSTP, which is discarded
      await sleep(500);
      type('SECRETREST\r');
      await sleep(500);
      type('abcSECRETREST\r');
      await sleep(1500);
    },
    'xterm',
  );
  // It was: "SECRETREST" and "abcSECRETREST" appeared on the screen, echoed by the terminal.
  expect(run.screen).not.toContain('SECRETREST');
  // Ctrl-Z was ignored: the two answers are the same password, and its hash is printed.
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  expect(printed !== undefined && bcrypt.compareSync('abcSECRETREST', printed)).toBe(true);
}, 30_000);
