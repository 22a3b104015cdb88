/**
 * Found by a review of 0cc66e1 ("Finish or name each key step cut short").
 *
 * docs/operations.md: "each activation drops the key retired by the one before from the bundle
 * (it says so), and tokens that key signed would be refused after the next registry restart".
 * keys activate cut short after its renames, before bundle.pem, is now finished by running it
 * again (the new `!nextKey && !nextCert` branch). That run is the one that takes the older key
 * out of bundle.pem (the cut run never got there, nor printed anything), but it calls
 * activated(files, current) without `dropped`: the result has no droppedKid, and the CLI prints
 * no "the key retired by the last activation (kid …) has left the bundle" line. The operator is
 * never told that tokens signed by that key stop working at the next registry restart.
 * (The same holds for the older "cut between the two renames" branch.)
 * Fix: src/tools/keys.ts keysActivate, cut-short branches — name the key the old bundle.pem held
 * besides token.pem and previous.pem (its kid can be taken from its certificate) as dropped.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r4-activate-dropped-');
afterAll(() => tmp.cleanup());

test('keys activate finishing a run cut after its renames says which key left the bundle', async () => {
  const dir = join(tmp.dir, 'keys');
  const path = (f: string) => join(dir, f);
  await keysInit(dir);
  await keysRotate(dir);
  const first = await keysActivate(dir);
  // The key the next activation drops: retired by this one.
  const older = first.retiredKid;
  expect(older).not.toBe('');
  await keysRotate(dir);
  // The activation up to its renames: previous.* <- token.*, next.* -> token.*; then stopped.
  writeFileSync(path('previous.key'), readFileSync(path('token.key')), { mode: 0o600 });
  writeFileSync(path('previous.pem'), readFileSync(path('token.pem')));
  renameSync(path('next.key'), path('token.key'));
  renameSync(path('next.pem'), path('token.pem'));

  const run = await regauth(['keys', 'activate', '--dir', dir]);
  expect(run.code).toBe(0);
  expect(readFileSync(path('bundle.pem'), 'utf8').match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  // Today: the older key left bundle.pem in this run, and nothing says so.
  expect(run.stdout).toMatch(new RegExp(`kid ${older.replace(/[^A-Z0-9]/g, '.')}\\) has left the bundle`));
});
