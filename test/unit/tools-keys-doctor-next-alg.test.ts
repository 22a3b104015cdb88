/**
 * Found by a review of signing-key rotation (keys rotate --alg / doctor's rotation line).
 *
 * docs/operations.md ("Rotating the token signing key"): rotation is staged "so that regauth never
 * signs with a key the registry has not loaded yet", and `regauth doctor`'s `rotation` line is a
 * finding (exit 1) *before* `keys activate` when the registry would refuse the next key (the jwks
 * case). docs/cli.md (`keys rotate`): "same algorithm unless `--alg`"; doctor checks that "a v3
 * `signingalgorithms` list holds the key's algorithm".
 *
 * `keys rotate --alg RS256` on an ES256 key, with a registry v3 whose `signingalgorithms` is
 * [ES256]: doctor passes (exit 0) and says "once the registry has been restarted with it, run
 * `regauth keys activate`". After that activation regauth signs RS256 and the registry refuses
 * every token; doctor only says so (FAIL signingalgorithms) after the outage has started.
 * src/tools/doctor.ts rotationStage checks the next key against the jwks only, never against
 * signingalgorithms.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-keys-next-alg-');
afterAll(() => tmp.cleanup());

test('doctor flags, before keys activate, a next key whose algorithm the registry v3 signingalgorithms refuses', async () => {
  const dir = join(tmp.dir, 'keys');
  mkdirSync(tmp.dir, { recursive: true });
  await keysInit(dir, { alg: 'ES256' });
  await keysRotate(dir, { alg: 'RS256' });
  const registry = join(tmp.dir, 'registry.yml');
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://r.test/auth\n    service: r.test\n    issuer: regauth\n` +
      `    rootcertbundle: ${dir}/bundle.pem\n    jwks: ${dir}/jwks.json\n    signingalgorithms: [ES256]\n`,
  );
  const config = join(tmp.dir, 'config.yml');
  writeFileSync(
    config,
    `token: {issuer: regauth, x5c: false, key: ${dir}/token.key, certificate: ${dir}/token.pem}\nusers: {"": {}}\nacl: []\n`,
  );
  const before = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  // Today: exit 0, "ok rotation: … once the registry has been restarted with it, run `regauth keys activate …`".
  expect(before.stdout).not.toMatch(/^ok {3}rotation: .*run `regauth keys activate/m);
  expect(before.code).toBe(1);

  // What activating on that advice does: the very next doctor run (and the registry) refuses.
  await keysActivate(dir);
  const after = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  expect(after.stdout).toMatch(/^FAIL signingalgorithms:/m);
});
