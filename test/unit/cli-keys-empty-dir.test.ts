/**
 * Found by a review of config reload and the key tools: `--dir ''` (a script's unset variable,
 * `--dir "$KEYS"`) was read as the working directory, and `keys init` wrote the private key there.
 * An empty directory option is refused, and nothing is written.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');

const tmp = tempDir('regauth-keys-empty-dir-');
afterAll(() => tmp.cleanup());

test.each([
  [['keys', 'init', '--dir', '']],
  [['keys', 'init', '--dir', ' ']],
  [['keys', 'rotate', '--dir', '']],
  [['keys', 'activate', '--dir', '']],
  [['keys', 'init', '--dir', 'keys', '--publish', '']],
  [['keys', 'publish', '--dir', 'keys', '--publish', '']],
])('regauth %j: refused (exit 2), nothing written in the working directory', (args) => {
  const run = spawnSync(process.execPath, [MAIN, ...args], { cwd: tmp.dir, encoding: 'utf8' });
  expect(run.status).toBe(2);
  expect(run.stderr).toMatch(/argument .* is invalid\. empty; give a directory/);
  expect(readdirSync(tmp.dir)).toEqual([]);
});
