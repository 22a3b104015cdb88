/**
 * Found by a review of keys and reload: `keys init` in a directory where a key was made before
 * (token.key and token.pem deleted to start over, after a compromise say) wrote a fresh key and a
 * bundle.pem holding only it, and left next.* and previous.* from the old setup in place. `keys
 * rotate` then refused ("a rotation is pending"), and `keys activate` switched signing to the
 * stale next.key, which the bundle the registry was given never held: every token refused. A
 * later rotation put the stale previous.pem back into the bundle: a key meant to be retired was
 * trusted again. init now refuses while any of them is there, and changes nothing.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { certificatePems } from '../../src/token/keys.js';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-keys-init-leftovers-');
afterAll(() => tmp.cleanup());

const fingerprints = (pem: string) => certificatePems(pem).map((c) => new X509Certificate(c).fingerprint256);
const fingerprintOf = (file: string) => fingerprints(readFileSync(file, 'utf8'))[0]!;

test('keys init refuses a directory holding next.* from an earlier key, changing nothing', async () => {
  const dir = join(tmp.dir, 'a');
  const files = await keysInit(dir);
  await keysRotate(dir);
  rmSync(files.key);
  rmSync(files.certificate);
  const before = readdirSync(dir).sort();
  const bundle = readFileSync(files.bundle, 'utf8');
  await expect(keysInit(dir)).rejects.toThrow(
    /next\.key, next\.pem .*earlier key.*remove them .*to start over/,
  );
  expect(readdirSync(dir).sort()).toEqual(before);
  expect(readFileSync(files.bundle, 'utf8')).toBe(bundle);
  expect(existsSync(files.key)).toBe(false);

  // Removed as told: init, rotate and activate sign only with what the registry's bundle holds.
  rmSync(files.nextKey);
  rmSync(files.nextCertificate);
  await keysInit(dir);
  await keysRotate(dir);
  const registryBundle = fingerprints(readFileSync(files.bundle, 'utf8'));
  await keysActivate(dir);
  expect(registryBundle).toContain(fingerprintOf(files.certificate));
});

test('keys init refuses previous.* from an earlier key: a retired key never comes back in the bundle', async () => {
  const dir = join(tmp.dir, 'b');
  const files = await keysInit(dir);
  await keysRotate(dir);
  await keysActivate(dir);
  const old = [fingerprintOf(files.previousCertificate), fingerprintOf(files.certificate)];
  rmSync(files.key);
  rmSync(files.certificate);
  await expect(keysInit(dir)).rejects.toThrow(/previous\.key, previous\.pem/);
  rmSync(files.previousKey);
  rmSync(files.previousCertificate);
  await keysInit(dir);
  await keysRotate(dir);
  const bundle = fingerprints(readFileSync(files.bundle, 'utf8'));
  for (const f of old) expect(bundle).not.toContain(f);
});
