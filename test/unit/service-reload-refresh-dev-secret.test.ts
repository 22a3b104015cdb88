/**
 * Found by a review of refresh tokens: a running `regauth serve` whose config names
 * `token.refresh.secret_file` took a reload whose `token.refresh` had no `secret_file` (a file
 * cut short right after `refresh:` or `expiration:`) and moved to a development secret it
 * created in the data directory: every refresh token out was refused at once (docker has
 * forgotten the passwords, so every user had to log in again), and those issued meanwhile died
 * again when the whole file landed. A reload that drops token.key is refused (docs/operations.md
 * "Reload"); so is this one now, before the development secret is made.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ConfigErrors } from '../../src/core/errors.js';
import { HeldNotices, serviceLoader } from '../../src/service/load.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-reload-refresh-dev-secret-');
afterAll(() => tmp.cleanup());

test('a reload whose token.refresh lost its secret_file is refused, and no development secret is made', async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const secretFile = join(tmp.dir, 'refresh.key');
  writeFileSync(secretFile, randomBytes(48).toString('base64'));
  const dataDir = join(tmp.dir, 'data');
  const file = join(tmp.dir, 'config.yml');
  const head = `server: {addr: "127.0.0.1:0"}\ntoken:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n`;
  const rest = `users:\n  alice:\n    password: "${hash('alice-pw-123')}"\nacl: [{match: {}, actions: [pull]}]\n`;
  writeFileSync(file, `${head}  refresh:\n    secret_file: ${secretFile}\n${rest}`);
  const loader = serviceLoader(file, dataDir, new HeldNotices());
  const running = await loader.load();
  expect(running.token.refresh?.secretFile).toBe(secretFile);

  for (const cut of ['  refresh:\n    expiration: 90d\n', '  refresh:\n']) {
    writeFileSync(file, `${head}${cut}${rest}`);
    const next = await loader.load(running).catch((e: unknown) => e);
    expect(next).toBeInstanceOf(ConfigErrors);
    const messages = (next as ConfigErrors).errors.map((e) => e.message);
    expect(messages).toEqual([
      expect.stringMatching(/^token\.refresh\.secret_file: no longer set; .*development secret/),
    ]);
    expect(existsSync(join(dataDir, 'refresh.key'))).toBe(false);
  }

  // A running config on the development secret may keep it, and may move to a named one.
  const devFile = join(tmp.dir, 'dev.yml');
  writeFileSync(devFile, `${head}  refresh:\n    expiration: 90d\n${rest}`);
  const devLoader = serviceLoader(devFile, dataDir, new HeldNotices());
  const onDev = await devLoader.load();
  expect(onDev.token.refresh?.secretStandsIn).toBe(true);
  expect((await devLoader.load(onDev)).token.refresh?.secretStandsIn).toBe(true);
  writeFileSync(devFile, `${head}  refresh:\n    secret_file: ${secretFile}\n${rest}`);
  expect((await devLoader.load(onDev)).token.refresh?.secretFile).toBe(secretFile);
});
