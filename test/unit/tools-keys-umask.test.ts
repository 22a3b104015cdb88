import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect, test } from 'vitest';
import { keysInit, keysRotate } from '../../src/index.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-keys-umask-');
const original = process.umask(0o022);
afterEach(() => {
  process.umask(original);
});
afterAll(() => tmp.cleanup());

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

test('under a umask that takes the owner’s bits (0477) every file and directory gets the mode keys init prints', async () => {
  // The key was written with writeFile's mode, which such a umask cut to 0200: a key regauth
  // serve could not read (as a non-root user), while keys init printed 0600. Found by a review.
  process.umask(0o477);
  const dir = join(tmp.dir, 'etc', 'keys');
  const files = await keysInit(dir, { publish: join(tmp.dir, 'trust') });
  await keysRotate(dir);
  expect({
    parent: mode(join(tmp.dir, 'etc')),
    dir: mode(dir),
    key: mode(files.key),
    certificate: mode(files.certificate),
    nextKey: mode(files.nextKey),
    nextCertificate: mode(files.nextCertificate),
    bundle: mode(files.bundle),
    published: mode(join(tmp.dir, 'trust')),
  }).toEqual({
    parent: '755',
    dir: '700',
    key: '600',
    certificate: '644',
    nextKey: '600',
    nextCertificate: '644',
    bundle: '644',
    published: '755',
  });
});
