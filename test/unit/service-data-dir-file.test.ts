/**
 * Found by a review of the operator's CLI: `regauth serve --data-dir X` where X is a regular file
 * (`--data-dir config.yml`, or a file left where a volume should be mounted) exited 2 with the
 * wrong fix: "the development key cannot be written to X/token.key (EEXIST): make its directory
 * writable for this user". X is no directory at all; the message now says so.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const tmp = tempDir('regauth-serve-data-dir-file-');
afterAll(() => tmp.cleanup());

test('serve --data-dir naming a regular file: exit 2, saying it is not a directory', () => {
  writeFileSync(
    join(tmp.dir, 'config.yml'),
    "server: {addr: '127.0.0.1:0'}\ntoken: {issuer: regauth}\nusers: {alice: {}}\nacl:\n  - {match: {account: alice}, actions: [pull]}\n",
  );
  writeFileSync(join(tmp.dir, 'notes.txt'), 'not a directory\n');
  const run = spawnSync(process.execPath, [MAIN, 'serve', '-c', 'config.yml', '--data-dir', 'notes.txt'], {
    cwd: tmp.dir,
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(run.status).toBe(2);
  expect(run.stderr).toContain(
    `${join(tmp.dir, 'notes.txt')} is a file, not a directory (--data-dir must name a directory)`,
  );
  expect(run.stderr).not.toContain('make its directory writable');
});

test('serve --data-dir below a regular file: the same, naming the part that is a file', () => {
  const run = spawnSync(
    process.execPath,
    [MAIN, 'serve', '-c', 'config.yml', '--data-dir', 'notes.txt/data'],
    {
      cwd: tmp.dir,
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  expect(run.status).toBe(2);
  expect(run.stderr).toContain(`a part of ${join(tmp.dir, 'notes.txt/data')} is a file, not a directory`);
  expect(run.stderr).not.toContain('make its directory writable');
});
