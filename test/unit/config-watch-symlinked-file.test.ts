/**
 * Found by a review of keys and reload. `regauth serve` watches "the config file and every file it names (token keys and
 * certificates) and reloads when one changes" (docs/operations.md "Reload"), and `keys activate`
 * relies on it: "regauth notices the change of its key files and reloads within a second".
 *
 * The watcher (src/config/watch.ts) watches the directory a named file sits in, by name. When the
 * named file is a symbolic link to a file in another directory (a config directory linking to
 * the key directory, a link into a secrets mount), a change of the target is never seen: the
 * service keeps signing with the old key, silently, until it is sent SIGHUP.
 */
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';
import { until } from '../helpers/watch.js';

const tmp = tempDir('regauth-watch-symlinked-file-');
afterAll(() => tmp.cleanup());

const kidOf = (keyFile: string, certFile: string) =>
  loadSigningKey({
    keyPem: readFileSync(keyFile, 'utf8'),
    certPem: readFileSync(certFile, 'utf8'),
    x5c: true,
    kidFormat: 'libtrust',
  }).kid;

async function serve(conf: string) {
  writeFileSync(
    join(conf, 'config.yml'),
    'server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t, key: token.key, certificate: token.pem}\nacl: []\n',
  );
  const log = logSink();
  const service = await startService({
    configFile: join(conf, 'config.yml'),
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watchDebounceMs: 100,
  });
  return { service, log };
}

test('keys activate in a key directory the config reaches through file symlinks: regauth switches to the new key', async () => {
  const keys = join(tmp.dir, 'a', 'keys');
  const conf = join(tmp.dir, 'a', 'conf');
  mkdirSync(conf, { recursive: true });
  const files = await keysInit(keys);
  symlinkSync(files.key, join(conf, 'token.key'));
  symlinkSync(files.certificate, join(conf, 'token.pem'));
  const { service } = await serve(conf);
  try {
    expect(service.runtime().config.token.key.kid).toBe(kidOf(files.key, files.certificate));
    await keysRotate(keys);
    const next = kidOf(files.nextKey, files.nextCertificate);
    await keysActivate(keys);
    // "regauth notices the change of its key files and reloads within a second"
    await until(() => service.runtime().config.token.key.kid === next, 3000);
    expect(service.runtime().config.token.key.kid).toBe(next);
  } finally {
    await service.close(100);
  }
}, 20_000);

test('a symlinked key and certificate whose targets are replaced by rename: regauth reloads', async () => {
  const secrets = join(tmp.dir, 'b', 'secrets');
  const conf = join(tmp.dir, 'b', 'conf');
  mkdirSync(secrets, { recursive: true });
  mkdirSync(conf, { recursive: true });
  const first = await generateSigningMaterial({ alg: 'ES256', commonName: 'first', validDays: 2 });
  writeFileSync(join(secrets, 'token.key'), first.keyPem, { mode: 0o600 });
  writeFileSync(join(secrets, 'token.pem'), first.certPem);
  symlinkSync(join(secrets, 'token.key'), join(conf, 'token.key'));
  symlinkSync(join(secrets, 'token.pem'), join(conf, 'token.pem'));
  const { service } = await serve(conf);
  try {
    const second = await generateSigningMaterial({ alg: 'ES256', commonName: 'second', validDays: 2 });
    for (const [name, text] of [
      ['token.key', second.keyPem],
      ['token.pem', second.certPem],
    ] as const) {
      writeFileSync(join(secrets, `${name}.tmp`), text, { mode: 0o600 });
      renameSync(join(secrets, `${name}.tmp`), join(secrets, name));
    }
    const wanted = kidOf(join(secrets, 'token.key'), join(secrets, 'token.pem'));
    await until(() => service.runtime().config.token.key.kid === wanted, 3000);
    expect(service.runtime().config.token.key.kid).toBe(wanted);
  } finally {
    await service.close(100);
  }
}, 20_000);
