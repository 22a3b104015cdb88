/**
 * Found by a review of c096048 ("Name the key an activation drops from what the bundle held").
 *
 * keys activate now names as dropped the first certificate of the old bundle.pem whose
 * fingerprint is not one of the kept pairs' (leavingKid). It compares certificates, not keys: a
 * certificate of a kept key (token.pem re-issued for the same token.key between rotate and
 * activate) counts as "leaving", and its kid, the key just retired to previous.key and still in
 * the bundle, is printed as "the key retired by the last activation (kid …) has left the
 * bundle". The key that really leaves (retired by the activation before) is not named: the
 * operator is told the wrong tokens stop working at the next registry restart.
 * The registry (libtrust kid from each certificate's public key) trusts keys, not certificates.
 * Fix: src/tools/keys.ts leavingKid — skip certificates whose public key is a kept pair's key.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r5-dropped-same-key-');
afterAll(() => tmp.cleanup());

test('a re-issued certificate of a kept key is not named as the key that left the bundle', async () => {
  const dir = join(tmp.dir, 'keys');
  await keysInit(dir);
  await keysRotate(dir);
  // The key the next activation drops: retired by this one.
  const older = (await keysActivate(dir)).retiredKid;
  await keysRotate(dir);
  // token.pem re-issued for the same token.key while the rotation is pending.
  execFileSync('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    join(dir, 'token.key'),
    '-out',
    join(dir, 'token.pem'),
    '-days',
    '30',
    '-subj',
    '/CN=regauth token signer (renewed)',
  ]);
  const result = await keysActivate(dir);
  // Today: droppedKid === result.retiredKid (the key just retired, still in the bundle).
  expect(result.droppedKid).not.toBe(result.retiredKid);
  expect(result.droppedKid).toBe(older);
});
