/**
 * Found by a review of 38ca312 ("config: read the refresh secret file before making the development key"):
 * an invalid config must leave nothing behind in the data folder, at start or on a reload
 * (LoadOptions.devKey; test/unit/service-dev-key-refresh-error.test.ts). A reload that
 * `keepPasswords` refuses (src/service/load.ts: an account without a password the running config
 * did not serve so) is refused only after loadConfigFile returned, i.e. after the development
 * refresh-token secret was written: the refused config leaves ./data/refresh.key behind (and the
 * "created a development refresh-token secret" warning) although it never served.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ConfigErrors } from '../../src/core/errors.js';
import { HeldNotices, serviceLoader } from '../../src/service/load.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-reload-dev-secret-');
afterAll(() => tmp.cleanup());

test('a reload refused for an account without a password writes no development refresh secret', async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const dataDir = join(tmp.dir, 'data');
  const file = join(tmp.dir, 'config.yml');
  const head = `server: {addr: "127.0.0.1:0"}\ntoken:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n`;
  const acl = `acl: [{match: {}, actions: [pull]}]\n`;
  const alice = `users:\n  alice:\n    password: "${hash('alice-pw-123')}"\n`;
  writeFileSync(file, `${head}${alice}${acl}`);
  const loader = serviceLoader(file, dataDir, new HeldNotices());
  const running = await loader.load();
  expect(running.token.refresh).toBeUndefined();

  // The next edit turns refresh tokens on (the development secret) and adds bob; the file is
  // cut short between bob's labels and his password.
  writeFileSync(
    file,
    `${head}  refresh:\n    expiration: 90d\n${acl}${alice}  bob:\n    labels: {group: [devs]}\n`,
  );
  const next = await loader.load(running).catch((e: unknown) => e);
  expect(next).toBeInstanceOf(ConfigErrors);
  expect((next as ConfigErrors).errors.map((e) => e.path)).toEqual(['users.bob.password']);
  // Refused: nothing may have been created for it.
  expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
});
