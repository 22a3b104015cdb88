/**
 * Found by a review of c11c889 ("finish only a rotation's cut activation").
 *
 * docs/operations.md: "An activation that was interrupted (between its two renames, or after them
 * before it rewrote the bundle) is finished by running `keys activate` again." Since c11c889 the
 * "after its renames" case is recognised by rotationBundleOf, which compares *certificates*: the
 * bundle's first certificate must be previous.pem's. But activate writes previous.pem from
 * token.pem as it stands at activation, and rotate wrote the bundle from token.pem as it stood at
 * rotation. A token.pem re-issued for the same key while the rotation is pending (the case
 * c11c889's own test tools-keys-activate-dropped-same-key covers for a full activation) makes the
 * two differ: the cut activation is no longer finished, and `keys activate` says "no rotation is
 * pending ... start one with keys rotate" (exit 2), leaving bundle.pem/jwks.json as rotate wrote
 * them. Before c11c889 (bundleHoldsOnly) it was finished.
 * Fix: src/tools/keys.ts rotationBundleOf — compare by key (libtrust kid of the bundle's first
 * certificate vs previous's key; next's key among the bundle's), as leavingKid now does.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { certificateBlocks, loadSigningKey } from '../../src/token/keys.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r6-finish-renewed-');
afterAll(() => tmp.cleanup());

const kid = (keyPem: string, certPem: string) =>
  loadSigningKey({ keyPem, certPem, x5c: false, kidFormat: 'libtrust' }).libtrustKid;

test('an activation cut short after its renames is finished though token.pem was renewed while pending', async () => {
  const dir = join(tmp.dir, 'keys');
  const f = (n: string) => join(dir, n);
  await keysInit(dir);
  await keysRotate(dir);
  await keysActivate(dir);
  await keysRotate(dir);
  // token.pem re-issued for the same token.key while the rotation is pending.
  execFileSync('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    f('token.key'),
    '-out',
    f('token.pem'),
    '-days',
    '30',
    '-subj',
    '/CN=regauth token signer (renewed)',
  ]);
  const next = kid(readFileSync(f('next.key'), 'utf8'), readFileSync(f('next.pem'), 'utf8'));
  const before = kid(readFileSync(f('token.key'), 'utf8'), readFileSync(f('token.pem'), 'utf8'));

  // `keys activate` cut short after its renames, before bundle.pem and jwks.json (what its
  // replaceFile of previous.* and two renames leave).
  writeFileSync(f('previous.key'), readFileSync(f('token.key')), { mode: 0o600 });
  writeFileSync(f('previous.pem'), certificateBlocks(readFileSync(f('token.pem'), 'utf8')));
  renameSync(f('next.key'), f('token.key'));
  renameSync(f('next.pem'), f('token.pem'));

  // Run again, as the docs say: it should finish (today: UsageError "no rotation is pending").
  const result = await keysActivate(dir);
  expect(result.kid).toBe(next);
  expect(result.retiredKid).toBe(before);
  const bundle = readFileSync(f('bundle.pem'), 'utf8');
  expect(bundle.startsWith(certificateBlocks(readFileSync(f('token.pem'), 'utf8')))).toBe(true);
});
