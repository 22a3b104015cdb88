/**
 * docs/cli.md: a mistake gets one clear line. `validate` of an empty file (or one naming only
 * token.certificate) first said it had checked the config with a stand-in key, then that the file
 * is no config at all. Found by a review.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-validate-empty-');
let config = '';
beforeAll(async () => {
  const keys = await writeSigningKey(tmp.dir);
  config = join(tmp.dir, 'config.yml');
  writeFileSync(
    config,
    `token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`,
  );
});
afterAll(() => tmp.cleanup());

test('validate: an empty config file is refused without a note about a stand-in key', async () => {
  const empty = join(tmp.dir, 'empty.yml');
  writeFileSync(empty, '');
  const run = await regauth(['validate', '-c', empty]);
  expect(run.code).toBe(2);
  // Today stderr starts "empty.yml: no token.key; checked with a stand-in key (…)", then the error.
  expect(run.stderr).not.toMatch(/stand-in key/);
});
