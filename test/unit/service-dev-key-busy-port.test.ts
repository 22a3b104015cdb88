import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir } from '../helpers/fixtures.js';

/**
 * Found by a review of the README's quick start. README "Quick start": `npm start` "on the start that creates the key, prints the `auth.token`
 * block to paste into the registry's config.yml", and "a config it refuses creates nothing there";
 * docs/cli.md: serve prints the block "when it creates the development key, that is on its first
 * start without token.key. Later starts do not print it".
 *
 * A first start whose port is taken (127.0.0.1:5001 in use: an earlier regauth, another service)
 * ends with `regauth: server.addr: cannot listen on …` (exit 2), yet it has already written
 * data/token.key, token.pem and refresh.key, without printing the block. The next start, once the
 * port is free, finds the key and does not print it either: the operator following the README
 * never sees the block. Whatever the fix (create nothing when the listener fails, or print the
 * block when the key is created, or on the first start that listens), one of the two starts must
 * print it.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');

interface Started {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `regauth serve`; stops it (SIGTERM) once it logs that it listens, or after `ms`. */
function serve(args: string[], cwd: string, ms = 20_000): Promise<Started> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAIN, 'serve', ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), ms);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // Give the stderr block a moment to be written after the listening line.
      if (stdout.includes('regauth listening')) setTimeout(() => child.kill('SIGTERM'), 500);
    });
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () => done((server.address() as { port: number }).port)),
  );
}

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe('README quick start: the auth.token block is printed even if the first start cannot listen', () => {
  test('port taken on the first start, free on the second: one of them prints the block', async () => {
    ensureBuilt();
    const { dir, cleanup } = tempDir('regauth-dev-key-busy-port-');
    cleanups.push(cleanup);
    const blocker = createServer();
    const port = await listen(blocker);
    cleanups.push(() => blocker.close());

    const config = readFileSync(join(ROOT, 'config.example.yml'), 'utf8').replace(
      "addr: '127.0.0.1:5001'",
      `addr: '127.0.0.1:${port}'`,
    );
    expect(config).toContain(`127.0.0.1:${port}`);
    writeFileSync(join(dir, 'config.yml'), config);

    const first = await serve(['-c', 'config.yml'], dir);
    expect(first.code).toBe(2);
    expect(first.stderr).toContain('cannot listen');

    await new Promise<void>((done) => blocker.close(() => done()));
    const second = await serve(['-c', 'config.yml'], dir);
    expect(second.stdout).toContain('regauth listening');

    expect(first.stderr + second.stderr).toContain('Paste into the registry config');
  });
});
