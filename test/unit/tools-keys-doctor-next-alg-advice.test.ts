/**
 * Found by a review of cf77df7 (doctor: when signingalgorithms refuses the next key's algorithm, advise
 * `regauth keys rotate --dir DIR` again, "without --alg it keeps" the current key's algorithm).
 *
 * 1. The rotation used --publish (the registry reads the published copy, not DIR/bundle.pem):
 *    the advised rotate has no --publish, so the registry's copy never gets the new next key
 *    (and the advised `keys activate --dir DIR`, also without --publish, then passes its check
 *    against DIR/bundle.pem and activates a key the registry does not trust).
 * 2. The next key has the current key's algorithm (a plain rotate) and signingalgorithms refuses
 *    it: "rotate again, it keeps ES256" makes the same refused key again.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysInit, keysRotate } from '../../src/tools/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-doctor-advice-');
afterAll(() => tmp.cleanup());

function configs(name: string, dir: string, bundleDir: string, algs: string) {
  const registry = join(tmp.dir, `${name}-registry.yml`);
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://r.test/auth\n    service: r.test\n    issuer: regauth\n` +
      `    rootcertbundle: ${bundleDir}/bundle.pem\n    jwks: ${bundleDir}/jwks.json\n    signingalgorithms: [${algs}]\n`,
  );
  const config = join(tmp.dir, `${name}-config.yml`);
  writeFileSync(
    config,
    `token: {issuer: regauth, x5c: false, key: ${dir}/token.key, certificate: ${dir}/token.pem}\nusers: {"": {}}\nacl: []\n`,
  );
  return { registry, config };
}

test('the advised rotate carries --publish DIR when the registry reads the published copy', async () => {
  mkdirSync(tmp.dir, { recursive: true });
  const dir = join(tmp.dir, 'pub-keys');
  const trust = join(tmp.dir, 'pub-trust');
  await keysInit(dir, { publish: trust });
  await keysRotate(dir, { alg: 'RS256', publish: trust });
  const { registry, config } = configs('pub', dir, trust, 'ES256');
  const doctor = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  expect(doctor.code).toBe(1);
  const fix = /delete (\S+) and (\S+) and run `(regauth keys rotate [^`]+)` again/.exec(doctor.stdout);
  expect(fix).not.toBeNull();
  expect(fix![3]).toContain(`--publish ${trust}`);
});

test('the advised rotate does not make a key of the very algorithm signingalgorithms refuses', async () => {
  mkdirSync(tmp.dir, { recursive: true });
  const dir = join(tmp.dir, 'same-keys');
  await keysInit(dir); // ES256
  await keysRotate(dir); // next key: ES256 too
  const { registry, config } = configs('same', dir, dir, 'RS256');
  const doctor = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  expect(doctor.code).toBe(1);
  const fix = /delete (\S+) and (\S+) and run `(regauth keys rotate [^`]+)` again/.exec(doctor.stdout);
  expect(fix, doctor.stdout).not.toBeNull();
  // Following the advice as written.
  rmSync(fix![1]!);
  rmSync(fix![2]!);
  const rotate = await regauth(fix![3]!.split(' ').slice(1));
  expect(rotate.code).toBe(0);
  const next = new X509Certificate(readFileSync(join(dir, 'next.pem'), 'utf8'));
  // signingalgorithms: [RS256] — the new next key must be one the registry accepts.
  expect(next.publicKey.asymmetricKeyType).toBe('rsa');
});
