import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ensureBuilt } from '../../helpers/build.js';

export const ROOT = resolve(import.meta.dirname, '../../..');
/** The built CLI, as operators run it. */
export const CLI = resolve(ROOT, 'dist/cli/main.js');

/**
 * For a beforeAll: the built CLI, and util-linux's script(1), which gives a command a real
 * terminal as an operator's shell does (scripts/test-peers.sh installs it; never skipped).
 */
export function needTerminal(): void {
  ensureBuilt();
  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (script.status !== 0) throw new Error('script(1) from util-linux is needed: run scripts/test-peers.sh');
}

/** A word quoted for `sh -c`. */
export const word = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The shell line that runs the built `regauth` with `args` (already a shell fragment). */
export const regauthLine = (args: string): string => `${word(process.execPath)} ${word(CLI)} ${args}`;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a shell line on script(1)'s terminal (TERM `term`); `drive` types into it, and may wait
 * until the screen shows a text (`until`, the nth time). Resolves with everything the terminal
 * showed (latin1, byte for byte) and the exit code; killed after `killAfterMs` (15 s unless given).
 */
export async function onTerminal(
  shell: string,
  drive: (io: {
    screen: () => string;
    type: (s: string) => void;
    until: (s: string, n?: number) => Promise<void>;
  }) => Promise<void>,
  term = 'dumb',
  killAfterMs = 15_000,
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
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const until = async (s: string, n = 1) => {
    for (let i = 0; i < 200 && screen.split(s).length <= n; i++) await sleep(50);
  };
  await drive({ screen: () => screen, type: (s) => child.stdin.write(Buffer.from(s, 'latin1')), until });
  const code = await closed;
  clearTimeout(timer);
  return { code, screen };
}
