/**
 * Found by a review of config reload and the key tools.
 * docs/operations.md ("Rotating the token signing key"): rotation is staged "so that regauth never
 * signs with a key the registry has not loaded yet"; `keys rotate` rewrites bundle.pem / jwks.json
 * with the next key, and a refused step changes nothing (docs/cli.md: exit 2, "nothing was
 * changed").
 *
 * src/tools/keys.ts keysRotate writes next.pem and next.key first and only then builds the bundle
 * (writeTrust). When that fails (token.key replaced by hand so that it no longer matches token.pem,
 * with --alg so the current pair is not read before; a previous.* pair that does not match; an
 * interruption), next.* stay: the next `keys rotate` says "a rotation is pending … run keys
 * activate once the registry has been restarted with bundle.pem", but bundle.pem never held the
 * next key. keysActivate checks that the next key is in the registry's bundle only with
 * --publish (refuseUnpublishedNext), so without it it switches token.key to a key the registry,
 * restarted with that bundle, refuses: every pull and push fails.
 *
 * Cut short after next.pem alone (its first write), the two steps send the operator to each
 * other: `keys activate` says "no rotation is pending … start one with keys rotate", and
 * `keys rotate` refuses, saying "next.key exists", which it does not.
 *
 * Fix (src/tools/keys.ts): keysRotate checks every pair it will put in the bundle
 * (signingKey(current), previous) before writing next.*, and removes what it wrote when a later
 * write fails; keysActivate refuses (nothing changed) when DIR/bundle.pem lacks the next
 * certificate, as refuseUnpublishedNext does for the published copy; a lone next.pem is named as
 * what it is.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysInit, keysRotate } from '../../src/tools/keys.js';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { certificateFingerprints } from '../../src/token/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-rotate-');
afterAll(() => tmp.cleanup());

test('a keys rotate refused for a token.key that no longer matches token.pem leaves no pending rotation', async () => {
  const dir = join(tmp.dir, 'mismatch');
  await keysInit(dir);
  // token.key replaced by hand with a key token.pem is not for.
  const other = await generateSigningMaterial({ alg: 'ES256', commonName: 'other', validDays: 2 });
  writeFileSync(join(dir, 'token.key'), other.keyPem, { mode: 0o600 });
  const run = await regauth(['keys', 'rotate', '--dir', dir, '--alg', 'ES256']);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/does not match/);
  // Refused: nothing was changed, so no next key the bundle never held is pending.
  expect(existsSync(join(dir, 'next.key'))).toBe(false);
  expect(existsSync(join(dir, 'next.pem'))).toBe(false);
});

test('keys activate never switches to a next key the bundle the registry was given lacks', async () => {
  const dir = join(tmp.dir, 'interrupted');
  await keysInit(dir);
  const bundleBefore = readFileSync(join(dir, 'bundle.pem'), 'utf8');
  const jwksBefore = readFileSync(join(dir, 'jwks.json'), 'utf8');
  await keysRotate(dir);
  // The rotate stopped after next.key, before bundle.pem and jwks.json were rewritten (killed,
  // or writeTrust failed as above).
  writeFileSync(join(dir, 'bundle.pem'), bundleBefore);
  writeFileSync(join(dir, 'jwks.json'), jwksBefore);
  // Following the advice of the refused second rotate: restart the registry with bundle.pem.
  const again = await regauth(['keys', 'rotate', '--dir', dir]);
  expect(again.stderr).toMatch(/restarted with .*bundle\.pem/);
  const registryTrusts = certificateFingerprints(readFileSync(join(dir, 'bundle.pem'), 'utf8'));
  const run = await regauth(['keys', 'activate', '--dir', dir]);
  const signsWith = certificateFingerprints(readFileSync(join(dir, 'token.pem'), 'utf8'))[0]!;
  // Either activate refuses, or the registry trusts the key regauth now signs with.
  if (run.code === 0) expect(registryTrusts).toContain(signsWith);
  else expect(run.stderr).toMatch(/bundle\.pem.*next/);
});

test('a rotate cut short after next.pem: rotate and activate do not each send the operator to the other', async () => {
  const dir = join(tmp.dir, 'lone-next-pem');
  await keysInit(dir);
  const bundleBefore = readFileSync(join(dir, 'bundle.pem'), 'utf8');
  const jwksBefore = readFileSync(join(dir, 'jwks.json'), 'utf8');
  await keysRotate(dir);
  // Stopped after next.pem, its first write: no next.key, the bundle as it was.
  rmSync(join(dir, 'next.key'));
  writeFileSync(join(dir, 'bundle.pem'), bundleBefore);
  writeFileSync(join(dir, 'jwks.json'), jwksBefore);
  const activate = await regauth(['keys', 'activate', '--dir', dir]);
  expect(activate.stderr).toMatch(/start one with `regauth keys rotate/);
  const rotate = await regauth(['keys', 'rotate', '--dir', dir]);
  // Done as told: rotate works, or at least does not say that next.key, which is not there, exists.
  if (rotate.code !== 0) expect(rotate.stderr).not.toMatch(/next\.key exists/);
});
