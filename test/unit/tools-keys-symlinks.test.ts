/**
 * A file the keys commands write is never written through a symlink planted in its place
 * (src/tools/keys.ts createWithMode). `keys rotate` took a dangling symlink at next.pem for no file,
 * then wrote the certificate through it, creating the file it pointed to (as root, anywhere);
 * `keys init` rewrote whatever an existing token.pem link pointed to. Found by a review.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysInit, keysRotate } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-keys-symlinks-');
afterAll(() => tmp.cleanup());

test('keys rotate never writes through a symlink planted as next.pem (a dangling one included)', async () => {
  const dir = join(tmp.dir, 'keys');
  await keysInit(dir);
  const elsewhere = join(tmp.dir, 'elsewhere');
  mkdirSync(elsewhere);
  const victim = join(elsewhere, 'victim.conf');
  // Dangling: `exists()` (access, which follows links) says next.pem is not there.
  symlinkSync(victim, join(dir, 'next.pem'));
  await keysRotate(dir).catch(() => undefined);
  // Refused, or the link replaced by a file of its own: never a file made where the link points.
  expect(existsSync(victim)).toBe(false);
  const st = lstatSync(join(dir, 'next.pem'));
  expect(st.isSymbolicLink() && existsSync(join(dir, 'next.key'))).toBe(false);
});

test('keys init never rewrites what a token.pem symlink points to', async () => {
  const dir = join(tmp.dir, 'init');
  mkdirSync(dir);
  const victim = join(tmp.dir, 'victim-init.conf');
  writeFileSync(victim, 'kept\n');
  symlinkSync(victim, join(dir, 'token.pem'));
  await keysInit(dir).catch(() => undefined);
  expect(readFileSync(victim, 'utf8')).toBe('kept\n');
});
