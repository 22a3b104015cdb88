/**
 * Found by a review of e772bd5 (doctor judges the next key's algorithm): when signingalgorithms
 * refuses the next key's algorithm, the fix said "rotate again with --alg ${key.alg}", the current
 * key's. regauth signs with ES384 and ES512 keys too, but `keys rotate --alg` takes only ES256
 * and RS256: for a P-384 signing key the advice was a command regauth refuses. A rotate without
 * --alg keeps the current key's algorithm, whichever it is.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysInit, keysRotate } from '../../src/tools/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-doctor-next-alg-fix-');
afterAll(() => tmp.cleanup());

test("doctor's fix for a next key signingalgorithms refuses is a rotate regauth runs (ES384 key)", async () => {
  const dir = join(tmp.dir, 'keys');
  mkdirSync(tmp.dir, { recursive: true });
  await keysInit(dir, { alg: 'ES384' });
  await keysRotate(dir, { alg: 'RS256' });
  const registry = join(tmp.dir, 'registry.yml');
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://r.test/auth\n    service: r.test\n    issuer: regauth\n` +
      `    rootcertbundle: ${dir}/bundle.pem\n    jwks: ${dir}/jwks.json\n    signingalgorithms: [ES384]\n`,
  );
  const config = join(tmp.dir, 'config.yml');
  writeFileSync(
    config,
    `token: {issuer: regauth, x5c: false, key: ${dir}/token.key, certificate: ${dir}/token.pem}\nusers: {"": {}}\nacl: []\n`,
  );
  const doctor = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  expect(doctor.code).toBe(1);
  const fix = /delete (\S+) and (\S+) and run `(regauth keys rotate [^`]+)` again/.exec(doctor.stdout);
  expect(fix).not.toBeNull();
  // Following the advice as written.
  rmSync(fix![1]!);
  rmSync(fix![2]!);
  const args = fix![3]!.split(' ').slice(1);
  const rotate = await regauth(args);
  expect(rotate.stderr).toBe('');
  expect(rotate.code).toBe(0);
  const next = new X509Certificate(readFileSync(join(dir, 'next.pem'), 'utf8'));
  expect(next.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
});
