/**
 * Found by a review of signing-key rotation (doctor's rotation line).
 *
 * docs/operations.md ("Reload"): a named file "that is a symlink into another directory
 * (`token.key -> /etc/regauth-keys/token.key`, where `keys activate` renames the target)" is a
 * supported layout, and regauth serve follows it through a rotation. docs/operations.md
 * ("Rotating the token signing key"): `regauth doctor` prints a `rotation` line that says which
 * stage each side is in, and a registry v3 jwks lacking the next key is a finding (exit 1) before
 * `keys activate`.
 *
 * src/tools/doctor.ts rotationStage looks for next.pem / previous.pem beside the *path* of
 * token.certificate (dirname of the symlink), not beside the file it leads to. With the config's
 * token.pem a symlink into the key directory, mid-rotation, doctor says "no rotation pending", and
 * misses the jwks finding that exists to stop the operator before an outage: exit 0, then
 * `keys activate` has a registry v3 refuse every token.
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysInit, keysRotate } from '../../src/tools/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-keys-doctor-symlink-');
afterAll(() => tmp.cleanup());

test('doctor sees a pending rotation (and a jwks lacking the next key) through a symlinked token.certificate', async () => {
  const keys = join(tmp.dir, 'regauth-keys');
  const etc = join(tmp.dir, 'etc-regauth');
  const trust = join(tmp.dir, 'trust');
  mkdirSync(etc, { recursive: true });
  mkdirSync(trust, { recursive: true });
  await keysInit(keys);
  copyFileSync(join(keys, 'jwks.json'), join(trust, 'jwks.json')); // installed before the rotation
  await keysRotate(keys);
  copyFileSync(join(keys, 'bundle.pem'), join(trust, 'bundle.pem')); // the bundle updated, the jwks forgotten
  symlinkSync(join(keys, 'token.key'), join(etc, 'token.key'));
  symlinkSync(join(keys, 'token.pem'), join(etc, 'token.pem'));
  const config = join(etc, 'config.yml');
  writeFileSync(
    config,
    `token: {issuer: regauth, x5c: false, key: token.key, certificate: token.pem}\nusers: {"": {}}\nacl: []\n`,
  );
  const registry = join(tmp.dir, 'registry.yml');
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://r.test/auth\n    service: r.test\n    issuer: regauth\n` +
      `    rootcertbundle: ${trust}/bundle.pem\n    jwks: ${trust}/jwks.json\n`,
  );
  const run = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  // Today: "ok   rotation: no rotation pending; …" and exit 0.
  expect(run.stdout).not.toMatch(/rotation: no rotation pending/);
  expect(run.stdout).toMatch(/rotation: rotation pending/);
  expect(run.code).toBe(1);
});
