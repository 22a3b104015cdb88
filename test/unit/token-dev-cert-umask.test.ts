/**
 * Found by a review of the docs against the code (README.md, "Quick start"):
 *
 *   "A data directory it creates (and its missing parents) is 0755 whatever the umask: no one
 *   else may write there, and a registry run as another user may read `token.pem`; the key and
 *   the secret are 0600."
 *
 * The directory is 0755 whatever the umask, but the development certificate itself is written
 * with `writeFileSync(…, { mode: 0o644 })` (src/token/generate.ts), which the umask narrows:
 * under `umask 077` (or 027, common on hardened hosts) `token.pem` is 0600 (0640), and a registry
 * run as another user cannot read the `rootcertbundle` the printed block names. `regauth keys
 * init` gives its certificate 0644 whatever the umask (createWithMode in src/tools/keys.ts);
 * `serve`'s development certificate should too.
 */
import { spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { until } from '../helpers/wait.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const tmp = tempDir('regauth-review-docs-umask-');
afterAll(() => tmp.cleanup());

test('under umask 077, serve makes a data directory and a token.pem that another user may read', async () => {
  const config = join(tmp.dir, 'config.yml');
  writeFileSync(
    config,
    'server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n',
  );
  const data = join(tmp.dir, 'data');
  // The umask is the shell's, inherited by node: vitest's workers cannot set their own.
  const cli = spawn(
    '/bin/sh',
    ['-c', 'umask 077 && exec "$0" "$@"', process.execPath, MAIN, 'serve', '-c', config, '--data-dir', data],
    {
      cwd: tmp.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
  cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => cli.on('exit', (code) => r(code)));
  try {
    expect(await until(() => /regauth listening/.test(out), 15_000), out).toBe(true);
  } finally {
    cli.kill('SIGTERM');
    await exited;
  }
  const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
  expect({
    dir: mode(data),
    key: mode(join(data, 'token.key')),
    // Readable by others (as keys init writes it: 0644), so a registry run as another user reads it.
    certificate: mode(join(data, 'token.pem')),
  }).toEqual({ dir: '755', key: '600', certificate: '644' });
}, 30_000);
