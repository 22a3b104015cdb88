/**
 * Found by a review of faaa7b3 ("Refuse an empty --dir or --publish in the keys verbs").
 *
 * The defect it fixed: "An empty directory option (a script's unset variable) was read as the
 * working directory, where keys init then wrote the private key." `regauth serve --data-dir` is
 * the same kind of option, and where a config names no token.key serve writes a private key
 * there: `regauth serve -c config.yml --data-dir "$DATA_DIR"` with DATA_DIR unset writes the
 * development token.key, token.pem (and refresh.key) into the working directory (resolve('')).
 * `doctor --data-dir ''` likewise reads the working directory. Only the keys verbs got the check.
 * Fix: src/cli/program.ts (serve) and src/cli/tools.ts (doctor): parse --data-dir with the same
 * `directory` check (exit 2, nothing written).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const tmp = tempDir('regauth-review-r3-data-dir-');
afterAll(() => tmp.cleanup());

test("regauth serve --data-dir '': refused (exit 2), no key written in the working directory", async () => {
  const cwd = join(tmp.dir, 'cwd');
  mkdirSync(cwd);
  const config = join(tmp.dir, 'config.yml');
  writeFileSync(
    config,
    'server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n',
  );
  const cli = spawn(process.execPath, [MAIN, 'serve', '-c', config, '--data-dir', ''], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
  cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => cli.on('exit', (code) => r(code)));
  // Either it exits, or it is listening by now (then stopped here).
  const code = await Promise.race([
    exited,
    new Promise<'running'>((r) => {
      const poll = setInterval(() => {
        if (/listening|started/i.test(out)) {
          clearInterval(poll);
          r('running');
        }
      }, 50);
      void exited.then(() => clearInterval(poll));
    }),
  ]);
  if (code === 'running') {
    cli.kill('SIGTERM');
    await exited;
  }
  // Today: it serves, having written token.key and token.pem into the working directory.
  expect({ code, files: readdirSync(cwd) }).toEqual({ code: 2, files: [] });
}, 20_000);
