/**
 * Found by a review of c096048 ("Name the key an activation drops from what the bundle held").
 *
 * docs/operations.md: a pending rotation no registry was given is cancelled by deleting next.key
 * and next.pem, and "`keys activate` without a pending rotation is refused too". After such a
 * cancel, bundle.pem still lists the deleted next key, so `keys activate` takes the directory for
 * an activation cut short after its renames and "finishes" it (exit 0, "token.key is now the key
 * with kid …", the key it already was). Since c096048 it also prints the cancelled next key, which
 * never signed anything, as "the key retired by the last activation (kid …) has left the
 * bundle", a key no activation retired.
 * Fix: src/tools/keys.ts keysActivate (the `!nextKey && !nextCert` branch) / leavingKid — tell a
 * cancelled rotation from an activation cut short (in the latter the bundle lists previous.pem
 * first and token.pem as the next key), and never name a key that was only ever `next`.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r5-cancelled-next-');
afterAll(() => tmp.cleanup());

test('keys activate after a cancelled rotation never names the cancelled next key as retired', async () => {
  const dir = join(tmp.dir, 'keys');
  await keysInit(dir);
  await keysRotate(dir);
  await keysActivate(dir);
  await keysRotate(dir);
  const cancelled = loadSigningKey({
    keyPem: readFileSync(join(dir, 'next.key'), 'utf8'),
    certPem: readFileSync(join(dir, 'next.pem'), 'utf8'),
    x5c: false,
    kidFormat: 'libtrust',
  }).libtrustKid;
  // Cancelled as the docs say (no registry was given that bundle).
  rmSync(join(dir, 'next.key'));
  rmSync(join(dir, 'next.pem'));

  const run = await regauth(['keys', 'activate', '--dir', dir]);
  // Today: exit 0 and "the key retired by the last activation (kid <cancelled>) has left the bundle".
  expect(run.stdout).not.toContain(`retired by the last activation (kid ${cancelled})`);
});
