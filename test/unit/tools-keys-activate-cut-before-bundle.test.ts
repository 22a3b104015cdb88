/**
 * Found by a review of 97a32e6 / a3bd286 (keys activate run again after an interruption).
 *
 * keys activate renames next.key and next.pem into place and only then rewrites bundle.pem and
 * jwks.json (activated → writeTrust), which is when the key retired by the previous activation
 * leaves the bundle ("a key retired by an earlier activation leaves the bundle now (it says so)",
 * docs/operations.md). Stopped after the renames, run again, it answers "no rotation is pending …;
 * start one with `regauth keys rotate`": the bundle (and, with --publish, the registry's copy)
 * keeps trusting the key that was to be dropped, and nothing says the activation is unfinished.
 * Without --publish no verb rewrites bundle.pem (keys publish needs a --publish DIR).
 * Fix: src/tools/keys.ts keysActivate — with nothing pending, a bundle/jwks that is not
 * [token, previous] is an activation cut short: write them (and the published copies), or say so.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { certificateFingerprints } from '../../src/token/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r3-activate-cut-');
afterAll(() => tmp.cleanup());

test('keys activate run again after its renames, before the bundle, finishes the bundle', async () => {
  const dir = join(tmp.dir, 'keys');
  const path = (f: string) => join(dir, f);
  await keysInit(dir);
  await keysRotate(dir);
  await keysActivate(dir);
  const older = certificateFingerprints(readFileSync(path('previous.pem'), 'utf8'))[0];
  await keysRotate(dir);
  // The activation up to its renames: previous.* <- token.*, next.* -> token.*; then stopped.
  writeFileSync(path('previous.key'), readFileSync(path('token.key')), { mode: 0o600 });
  writeFileSync(path('previous.pem'), readFileSync(path('token.pem')));
  renameSync(path('next.key'), path('token.key'));
  renameSync(path('next.pem'), path('token.pem'));

  const run = await regauth(['keys', 'activate', '--dir', dir]);
  // Today: exit 2, "no rotation is pending in … start one with `regauth keys rotate …`".
  expect(run.stderr).not.toMatch(/no rotation is pending/);
  const trusted = certificateFingerprints(readFileSync(path('bundle.pem'), 'utf8'));
  expect(trusted).not.toContain(older);
  expect(trusted).toEqual([
    certificateFingerprints(readFileSync(path('token.pem'), 'utf8'))[0],
    certificateFingerprints(readFileSync(path('previous.pem'), 'utf8'))[0],
  ]);
});
