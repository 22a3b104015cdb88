import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-tools-keys-');
afterAll(() => tmp.cleanup());

test('keys rotate/activate: bundle.pem and previous.pem hold certificates only, never a private key', async () => {
  // regauth takes a token.pem that holds the key too (a combined PEM, as HAProxy uses); the
  // files the registry is given must still hold certificates only. Found by an adversarial
  // review: rotate copied the combined file into bundle.pem (0644), activate into previous.pem.
  const dir = join(tmp.dir, 'keys-combined');
  await keysInit(dir);
  const key = readFileSync(join(dir, 'token.key'), 'utf8');
  writeFileSync(join(dir, 'token.pem'), readFileSync(join(dir, 'token.pem'), 'utf8') + key);
  const config = join(tmp.dir, 'combined.yml');
  writeFileSync(
    config,
    `token: {issuer: t, key: ${dir}/token.key, certificate: ${dir}/token.pem}\nacl: []\n`,
  );
  expect(loadConfigFile(config).token.key.kid).toBeTruthy();
  await keysRotate(dir);
  const rotated = readFileSync(join(dir, 'bundle.pem'), 'utf8');
  expect(rotated).not.toContain('PRIVATE KEY');
  expect(rotated.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
  await keysActivate(dir);
  expect(readFileSync(join(dir, 'previous.pem'), 'utf8')).not.toContain('PRIVATE KEY');
  const activated = readFileSync(join(dir, 'bundle.pem'), 'utf8');
  expect(activated).not.toContain('PRIVATE KEY');
  expect(activated.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
});
