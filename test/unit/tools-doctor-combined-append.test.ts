/**
 * Found by a review of 851205e ("Judge a bundle by how tokens name their key, in serve and doctor"), which
 * made doctor's rootcertbundle check share serve's test (bundleTrusts) so the two say the same.
 *
 * With token.certificate a combined PEM (certificate and private key in one file, which regauth
 * loads), serve's start-up line never names that file: it names bundle.pem beside the key and
 * the `sed` that writes the certificates alone (registryTrustFiles `makeBundle`), and doctor's own
 * "not set"/"cannot read" advice does the same (trustedFile). But when the registry's bundle lacks
 * the signing certificate, bundleTrustCheck's fix is still "append <token.certificate> to
 * <bundle> and restart the registry": followed, it copies regauth's signing key into a file the
 * registry (and whoever can read it) reads, and doctor's next run reports the bundle "holds a
 * private key ... rotate it" (src/tools/doctor.ts bundleTrustCheck).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { holdsPrivateKey } from '../../src/token/keys.js';
import { diagnose } from '../../src/tools/doctor.js';
import { keysInit } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-doctor-combined-');
afterAll(() => tmp.cleanup());

test("doctor's fix for a bundle without the signing certificate never appends a file holding the private key", async () => {
  // The signing key, as a combined PEM.
  const dir = join(tmp.dir, 'keys');
  const files = await keysInit(dir);
  const combined = join(dir, 'combined.pem');
  writeFileSync(combined, readFileSync(files.key, 'utf8') + readFileSync(files.certificate, 'utf8'));
  // The registry's bundle: a certificate of another key (an older setup).
  const other = await keysInit(join(tmp.dir, 'other'));
  const file = join(dir, 'regauth.yml');
  writeFileSync(
    file,
    `token:\n  issuer: acme\n  key: ${combined}\n  certificate: ${combined}\n  services: [registry.test]\n`,
  );
  const cfg = loadConfigFile(file);
  const check = diagnose(cfg, {
    token: {
      realm: 'https://r.example.com/auth',
      service: 'registry.test',
      issuer: 'acme',
      rootcertbundle: other.bundle,
    },
    dir,
  }).find((c) => c.name === 'rootcertbundle')!;
  expect(check.ok).toBe(false);
  // Each file the fix tells the operator to append to the registry's bundle.
  const appended = [...(check.fix ?? '').matchAll(/append (\S+) to/g)].map((m) => m[1]!);
  expect(appended.filter((f) => holdsPrivateKey(readFileSync(f, 'utf8')))).toEqual([]);
  // What it says instead: the certificates alone, added to the bundle.
  expect(check.fix).toContain(`/-----END CERTIFICATE-----/p' ${combined} >> ${other.bundle}`);
});
