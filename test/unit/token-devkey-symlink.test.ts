/**
 * No key file is written through a symlink planted in its place (f82e947, for the keys commands).
 * The development key `regauth serve` makes in its data dir wrote token.pem with a plain write:
 * it rewrote what a token.pem symlink pointed to, or created the file a dangling one named. Found
 * by a review of that change.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ensureDevKeys } from '../../src/token/generate.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-devkey-link-');
afterAll(() => tmp.cleanup());

test('the development key never rewrites what a token.pem symlink in the data dir points to', async () => {
  const dir = join(tmp.dir, 'data');
  mkdirSync(dir);
  const victim = join(tmp.dir, 'victim.conf');
  writeFileSync(victim, 'kept\n');
  symlinkSync(victim, join(dir, 'token.pem'));
  await ensureDevKeys(dir).catch(() => undefined);
  expect(readFileSync(victim, 'utf8')).toBe('kept\n');
});

test('the development key never creates the file a dangling token.pem symlink in the data dir names', async () => {
  const dir = join(tmp.dir, 'data2');
  mkdirSync(dir);
  const victim = join(tmp.dir, 'created-through-link.conf');
  symlinkSync(victim, join(dir, 'token.pem'));
  await ensureDevKeys(dir).catch(() => undefined);
  expect(existsSync(victim)).toBe(false);
});
