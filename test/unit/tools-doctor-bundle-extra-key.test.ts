/**
 * Found by a review of `regauth doctor` and `validate`.
 * Registry 2.8 turns every certificate of `rootcertbundle` into a libtrust key at start-up and
 * refuses to start when one is not RSA or EC on P-256/P-384/P-521 ("unable to get public key from
 * token auth root certificate", distribution v2.8.3 registry/auth/token/accesscontroller.go,
 * newAccessController; libtrust FromCryptoPublicKey). A bundle holding regauth's certificate plus
 * an extra Ed25519 one is a registry that never starts; doctor says it trusts regauth.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { setup } from '../helpers/doctor-registry.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-doctor-bundle-extra-');
let config = '';
let cert = '';
beforeAll(async () => {
  ({ config, certPath: cert } = await setup(tmp.dir));
});
afterAll(() => tmp.cleanup());

test('doctor: a bundle with an extra certificate registry 2.8 cannot load is a finding', async () => {
  const ed = join(tmp.dir, 'ed25519.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ed25519',
      '-nodes',
      '-keyout',
      join(tmp.dir, 'ed25519.key'),
      '-out',
      ed,
      '-days',
      '365',
      '-subj',
      '/CN=extra',
    ],
    { stdio: 'ignore' },
  );
  const bundle = join(tmp.dir, 'bundle.pem');
  writeFileSync(bundle, readFileSync(cert, 'utf8') + readFileSync(ed, 'utf8'));
  const registry = join(tmp.dir, 'registry.yml');
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://r.example.com/auth\n    service: registry.test\n    issuer: acme\n    rootcertbundle: ${bundle}\n`,
  );
  const run = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  expect(run.stdout).toMatch(/^FAIL rootcertbundle:/m);
  expect(run.code).toBe(1);
});
