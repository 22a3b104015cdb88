import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, expect, test } from 'vitest';
import { ConfigErrors } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-devkey-refresh-');
afterAll(() => tmp.cleanup());

// Found by reviews of key handling and of the config: `regauth serve` refuses an invalid config
// and writes nothing in the data folder (test/unit/service-refresh.test.ts; LoadOptions.devKey:
// an invalid config leaves no key behind). token.refresh was compiled after the development key
// was written (src/config/load.ts, loadConfigText), so a config whose only error was in
// token.refresh left the key, its certificate and registry-block.pending in the data folder.
test.each([
  ['a token.refresh.secret_file that does not exist', 'refresh: {secret_file: missing-refresh.key}'],
  ['a token.refresh.secret_file holding too little', 'refresh: {secret_file: short-refresh.key}'],
])('%s: serve refuses the config and writes nothing in the data folder', async (what, refresh) => {
  const dir = join(tmp.dir, what.replace(/\W+/g, '-'));
  mkdirSync(dir);
  writeFileSync(join(dir, 'short-refresh.key'), 'x\n');
  const configFile = join(dir, 'config.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: x, ${refresh}}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`,
  );
  const dataDir = join(dir, 'data');
  const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const refused = await startService({ configFile, dataDir, logger, watch: false }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(refused).toBeInstanceOf(ConfigErrors);
  // Refused for token.refresh alone: the rest of the config is valid.
  expect((refused as ConfigErrors).errors.map((e) => e.path)).toEqual(['token.refresh.secret_file']);
  expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
});
