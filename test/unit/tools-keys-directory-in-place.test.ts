/**
 * Found by a review of config reload and the key tools.
 * docs/cli.md ("Exit codes and the config"): a file that cannot be written is exit 2 with one
 * line, `regauth: <message>`, and no stack trace; 70 and a stack trace are for bugs only.
 *
 * src/tools/keys.ts replaceFiles throws a plain Error ("… is a directory; nothing there was
 * replaced") when a target is a directory, which exitCodeFor takes for a bug: `keys init`
 * prints "this is a bug in regauth, please report it" and a stack, exit 70. A directory there
 * is a common operator mistake: `docker run -v ./keys/bundle.pem:/…` with the file not made yet
 * makes a directory of that name. The key is written before the bundle, so the init is also left
 * half done: once the directory is removed, `keys init` again refuses ("token.key exists").
 *
 * Fix: throw UsageError in replaceFiles, and in keysInit check bundle.pem / jwks.json /
 * token.pem before writing token.key.
 */
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-keys-dir-');
afterAll(() => tmp.cleanup());

test('keys init with a directory where bundle.pem goes: exit 2, one line, and it can be run again', async () => {
  const dir = join(tmp.dir, 'keys');
  mkdirSync(join(dir, 'bundle.pem'), { recursive: true });
  const run = await regauth(['keys', 'init', '--dir', dir]);
  expect(run.stderr).not.toMatch(/this is a bug|\n\s+at /);
  expect(run.stderr).toMatch(/^regauth: .*bundle\.pem is a directory/);
  expect(run.code).toBe(2);
  // The mistake fixed, the same command works.
  rmdirSync(join(dir, 'bundle.pem'));
  const again = await regauth(['keys', 'init', '--dir', dir]);
  expect(again.stderr).toBe('');
  expect(again.code).toBe(0);
});
