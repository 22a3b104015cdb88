/**
 * Found by a review of config reload and the key tools.
 * docs/operations.md: "An activation that was interrupted … is finished by running `keys activate`
 * again", and each activation "drops the key retired by the one before from the bundle (it says
 * so)": the operator learns which key's tokens the registry will refuse after its next restart.
 *
 * keysActivate writes previous.key / previous.pem (the current key) before its renames. Cut short
 * there (Ctrl-C, a killed container) and run again, it reads the previous.* it just wrote as the
 * key "retired by the last activation" and prints "the key retired by the last activation (kid K)
 * has left the bundle" where K is the key it retires now, which it keeps in the bundle (the line
 * before says "bundle.pem and jwks.json hold both"). The key really dropped is never named.
 *
 * Fix: src/tools/keys.ts keysActivate, do not report a `dropped` pair that is the current key.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { certificateFingerprints } from '../../src/token/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-activate-rerun-');
afterAll(() => tmp.cleanup());

test('an activation run again after being cut short names the key that leaves the bundle, never one it keeps', async () => {
  const dir = join(tmp.dir, 'keys');
  await keysInit(dir);
  await keysRotate(dir);
  // The key the next activation drops: retired by this one.
  const older = (await keysActivate(dir)).retiredKid;
  await keysRotate(dir);
  // The second activation cut short after it wrote previous.* (the current key), before its renames.
  copyFileSync(join(dir, 'token.key'), join(dir, 'previous.key'));
  copyFileSync(join(dir, 'token.pem'), join(dir, 'previous.pem'));
  const run = await regauth(['keys', 'activate', '--dir', dir]);
  expect(run.code).toBe(0);
  expect(certificateFingerprints(readFileSync(join(dir, 'bundle.pem'), 'utf8'))).toHaveLength(2);
  const kept = (
    JSON.parse(readFileSync(join(dir, 'jwks.json'), 'utf8')) as { keys: { kid: string }[] }
  ).keys.map((k) => k.kid);
  const left = /retired by the last activation \(kid ([^)]+)\) has left the bundle/.exec(run.stdout)?.[1];
  expect(left).toBe(older);
  expect(kept).not.toContain(left);
});
