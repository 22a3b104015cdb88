/**
 * Found by a review of a3bd286 ("Name no kept key as dropped when an activation is run again").
 *
 * keys activate writes previous.key, then previous.pem (two replaceFile calls), then renames
 * next.* into place. Cut short between the first two writes, previous.key is the current key and
 * previous.pem still the certificate of the key retired by the last activation. Run again (as
 * docs/operations.md says an interrupted activation is finished), keysActivate compares only the
 * certificates (sameCertificate), takes that mismatched pair for the key it drops, does every
 * write (previous.*, both renames, bundle.pem, jwks.json) and only then, in activated(), loads the
 * pair for its kid: it throws "token.certificate does not match token.key" (a pair it never named)
 * and the CLI exits 2, though the activation is done. A script with `set -e` stops there; run again
 * it says "no rotation is pending". A refusal must change nothing; a success must say so.
 * Fix: src/tools/keys.ts keysActivate — treat a previous pair whose key is the current key (or any
 * pair that does not match) as no key to name as dropped, checked before anything is written.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r3-activate-half-');
afterAll(() => tmp.cleanup());

test('keys activate run again after a cut between previous.key and previous.pem succeeds', async () => {
  const dir = join(tmp.dir, 'keys');
  await keysInit(dir);
  await keysRotate(dir);
  await keysActivate(dir);
  await keysRotate(dir);
  const nextKey = readFileSync(join(dir, 'next.key'), 'utf8');
  // The activation's first write (previous.key <- token.key), then it was stopped.
  writeFileSync(join(dir, 'previous.key'), readFileSync(join(dir, 'token.key')), { mode: 0o600 });
  const run = await regauth(['keys', 'activate', '--dir', dir]);
  // Today: exit 2, "regauth: token.certificate does not match token.key: …", with token.key switched.
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  expect(readFileSync(join(dir, 'token.key'), 'utf8')).toBe(nextKey);
});
