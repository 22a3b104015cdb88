import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { save, sleep, until } from '../helpers/watch.js';

const tmp = tempDir('regauth-watch-refused-log-');
/** How many bad lines an htpasswd error names (src/authn/htpasswd.ts). */
const MAX_SHOWN = 10;
afterAll(() => tmp.cleanup());

/**
 * regauth serving config v1 with its lines appended to a log file (what a shell's `>>` does),
 * the config then saved naming that file as users_file; `level` as log.level.
 */
async function namingItsOwnLog(name: string, level: 'info' | 'debug') {
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  const keys = await writeSigningKey(dir);
  const config = (issuer: string) =>
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: ${issuer}, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: []\n`;
  const configFile = join(dir, 'config.yml');
  writeFileSync(configFile, config('v1'));
  const logFile = join(dir, 'regauth.log');
  writeFileSync(logFile, '');
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      appendFileSync(logFile, chunk);
      callback();
    },
  });
  const service = await startService({
    configFile,
    logger: createLogger({ destination: stream, format: 'json', level }),
    watchDebounceMs: 100,
  });
  const failures = () => lines.filter((l) => l.includes('config reload failed')).length;
  save(configFile, `${config('v2')}users_file: ${logFile}\n`);
  await until(() => failures() > 0, 3000);
  // Each failure names the log's bad lines, the first ten of them: once the file holds more,
  // a failure says what the last one said, and is not logged again.
  await sleep(2500);
  return { service, failures };
}

// A failed reload watches the refused config's files, so its own error line was a change:
// another reload, which failed and logged again, every debounce period with nobody writing
// anything. Found by reviews.

test('a refused config naming regauth’s own log file stops failing over and over; SIGHUP still says why', async () => {
  const { service, failures } = await namingItsOwnLog('info', 'info');
  try {
    const settled = failures();
    expect(settled).toBeLessThanOrEqual(MAX_SHOWN + 2);
    await sleep(1000);
    expect(failures()).toBe(settled);

    // Asked for by hand, the same failure is logged again: the operator is told why.
    await service.reload().catch(() => undefined);
    expect(failures()).toBe(settled + 1);
  } finally {
    await service.close(100);
  }
}, 15_000);

test('so it does at log.level debug', async () => {
  // A repeat was logged at debug level: with debug on (as while finding out why a reload fails),
  // that line was the next change.
  const { service, failures } = await namingItsOwnLog('debug', 'debug');
  try {
    const settled = failures();
    await sleep(1500);
    expect(failures()).toBe(settled);
  } finally {
    await service.close(100);
  }
}, 15_000);
