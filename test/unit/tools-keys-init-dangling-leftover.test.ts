/**
 * Found by a review of 3ff997c ("Refuse keys init where an earlier key's rotation files
 * remain"). init looked for next.* / previous.* with access(2), which follows a symlink, while
 * `keys rotate` decides that a rotation is pending with lstat(2), where a symlink counts wherever
 * it points. A next.key left as a dangling symlink (its target deleted with the old key) was no
 * leftover to init, which wrote a new key; then `keys rotate` refused ("a rotation is pending")
 * while `keys activate` said none was: the directory was stuck until the link was found by hand.
 */
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-keys-dangling-');
afterAll(() => tmp.cleanup());

test('a dangling next.key symlink: init refuses it as a leftover, or rotate works after init', async () => {
  const dir = join(tmp.dir, 'keys');
  mkdirSync(dir, { mode: 0o700 });
  symlinkSync(join(tmp.dir, 'gone', 'next.key'), join(dir, 'next.key'));
  const init = await keysInit(dir).then(
    () => 'written',
    (err: Error) => `refused: ${err.message}`,
  );
  if (init.startsWith('refused')) {
    expect(init).toMatch(/next\.key/);
    return;
  }
  // init wrote a new key: the next steps must work.
  const rotate = await keysRotate(dir).then(
    () => 'rotated',
    (err: Error) => `refused: ${err.message}`,
  );
  const activate = await keysActivate(dir).then(
    () => 'activated',
    (err: Error) => `refused: ${err.message}`,
  );
  expect({ rotate, activate }).toEqual({ rotate: 'rotated', activate: 'activated' });
});
