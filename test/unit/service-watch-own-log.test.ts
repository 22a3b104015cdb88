import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { save, sleep, until } from '../helpers/watch.js';

const tmp = tempDir('regauth-watch-own-log-');
afterAll(() => tmp.cleanup());

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

test('serve does not reload on its own log lines when its config names the file its output goes to', async () => {
  // `regauth serve >> /var/log/regauth.log`, with token.refresh.secret_file naming that file by
  // mistake: each reload logged "config reloaded" into a file it watches, the change that asked
  // for the next reload (and replaced the refresh secret each time). Found by a review.
  const keys = await writeSigningKey(tmp.dir);
  const logFile = join(tmp.dir, 'regauth.log');
  writeFileSync(logFile, `${'x'.repeat(40)}\n`);
  const config = (issuer: string) =>
    `server: {addr: "127.0.0.1:0"}\nlog: {format: json}\ntoken: {issuer: ${issuer}, key: ${keys.keyPath}, certificate: ${keys.certPath}, refresh: {secret_file: ${logFile}}}\nacl: []\n`;
  const configFile = join(tmp.dir, 'config.yml');
  writeFileSync(configFile, config('v1'));
  const out = openSync(logFile, 'a');
  let child: ChildProcess | undefined;
  const reloads = () => readFileSync(logFile, 'utf8').split('"msg":"config reloaded"').length - 1;
  try {
    child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', '-c', configFile], {
      stdio: ['ignore', out, 'ignore'],
    });
    await until(() => readFileSync(logFile, 'utf8').includes('regauth listening on'), 15_000);
    expect(readFileSync(logFile, 'utf8')).toContain('regauth listening on');
    await sleep(1500);
    expect(reloads()).toBe(0);

    // A change of its own still reloads, once.
    save(configFile, config('v2'));
    await until(() => reloads() > 0, 3000);
    await sleep(1500);
    expect(reloads()).toBe(1);
  } finally {
    closeSync(out);
    if (child?.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
}, 30_000);
