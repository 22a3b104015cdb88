/**
 * Found by a review of the first version of the message for a `--data-dir` that is a file
 * (3581a8e): any EEXIST from the data directory's mkdir was reported as "X is a file, not a
 * directory". A dangling symlink gives EEXIST too: `/app/data -> /mnt/volume/regauth` with the
 * volume not mounted (the usual reason such a link dangles) was told it "is a file", when the fix
 * is to make (or mount) the directory the link points at, which the message now says.
 */
import { existsSync, lstatSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ConfigErrors } from '../../src/core/errors.js';
import { HeldNotices, serviceLoader } from '../../src/service/load.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-data-dir-dangling-link-');
afterAll(() => tmp.cleanup());

test('a --data-dir that is a dangling symlink is not called a file', async () => {
  const file = join(tmp.dir, 'config.yml');
  writeFileSync(
    file,
    "server: {addr: '127.0.0.1:0'}\ntoken: {issuer: regauth}\nusers: {alice: {}}\nacl:\n  - {match: {account: alice}, actions: [pull]}\n",
  );
  const dataDir = join(tmp.dir, 'data');
  symlinkSync(join(tmp.dir, 'unmounted-volume', 'regauth'), dataDir);
  expect(lstatSync(dataDir).isSymbolicLink() && !existsSync(dataDir)).toBe(true);
  const err = await serviceLoader(file, dataDir, new HeldNotices())
    .load()
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigErrors);
  const message = (err as ConfigErrors).errors.map((e) => e.message).join('\n');
  expect(message).not.toContain(`${dataDir} is a file`);
  expect(message).toContain(
    `${dataDir} is a link to ${join(tmp.dir, 'unmounted-volume', 'regauth')}, which does not exist: make (or mount) that directory`,
  );
});
