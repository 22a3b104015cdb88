/**
 * Found by a review of 38ca312 ("config: read the refresh secret file before making the development key"):
 * `regauth serve` refusing a config writes no development key (LoadOptions.devKey: "an invalid
 * config leaves no key behind"; test/unit/service-dev-key-refresh-error.test.ts). The commit reads
 * a named token.refresh.secret_file first, but the development refresh secret is still read (and
 * checked) only after the development key was written (src/config/load.ts, loadConfigText). A data
 * folder whose refresh.key holds too little (an empty file left by a start that died, or a full
 * disk) makes serve refuse the config for token.refresh.secret_file, and the fresh token.key,
 * token.pem and registry-block.pending stay behind.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, expect, test } from 'vitest';
import { ConfigErrors } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-dev-secret-short-');
afterAll(() => tmp.cleanup());

test('a development refresh secret holding too little: serve refuses and writes no development key', async () => {
  const dir = join(tmp.dir, 'cfg');
  mkdirSync(dir);
  const configFile = join(dir, 'config.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: x, refresh: {expiration: 90d}}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`,
  );
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  writeFileSync(join(dataDir, 'refresh.key'), '', { mode: 0o600 });
  const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const refused = await startService({ configFile, dataDir, logger, watch: false }).then(
    async (service) => {
      await service.close(10);
      return undefined;
    },
    (err: unknown) => err,
  );
  expect(refused).toBeInstanceOf(ConfigErrors);
  expect((refused as ConfigErrors).errors.map((e) => e.path)).toEqual(['token.refresh.secret_file']);
  // Only what was there before.
  expect(readdirSync(dataDir).sort()).toEqual(['refresh.key']);
});
