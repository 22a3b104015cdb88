/**
 * Found by a review of 0455a95: a `.keys.lock` already there is read (readFile, following symlinks) and its
 * first 200 characters are put in the refusal. A symlink planted as `.keys.lock` (by anyone who
 * can write in the key directory) makes a step, run as root by the compose one-shot or an
 * operator, print a file it can read and the planter cannot (its refusal goes to CI/compose logs).
 * The lock is ours: read without following a symlink (O_NOFOLLOW), or not quoted at all.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-lock-symlink-');
afterAll(() => tmp.cleanup());

test('a symlink in place of .keys.lock is refused without quoting the file it points to', async () => {
  mkdirSync(tmp.dir, { recursive: true });
  const dir = join(tmp.dir, 'keys');
  await keysInit(dir);
  await keysRotate(dir);
  const secret = join(tmp.dir, 'secret.txt');
  writeFileSync(secret, 'TOP-SECRET-CONTENT\n', { mode: 0o600 });
  symlinkSync(secret, join(dir, '.keys.lock'));
  const message = await keysActivate(dir).then(
    () => 'ran',
    (err: Error) => err.message,
  );
  expect(message).toMatch(/another `regauth keys` step is running/);
  expect(message).not.toContain('TOP-SECRET-CONTENT');
});
