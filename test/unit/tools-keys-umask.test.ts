import { chmodSync, chownSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect, test } from 'vitest';
import { chmodDirectory } from '../../src/core/mkdir.js';
import { keysInit, keysRotate } from '../../src/index.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-keys-umask-');
const original = process.umask(0o022);
afterEach(() => {
  process.umask(original);
});
afterAll(() => tmp.cleanup());

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

/** The user the steps below run as (the tests run as root, which may chown and seteuid). */
const NOBODY = 65534;
const ids = process as Required<Pick<NodeJS.Process, 'seteuid' | 'setegid'>>;

/** `fn` run as NOBODY, under `umask` when given; what it threw, or undefined. */
async function asNobody(fn: () => Promise<unknown>, umask?: number): Promise<unknown> {
  const old = umask === undefined ? undefined : process.umask(umask);
  ids.setegid(NOBODY);
  ids.seteuid(NOBODY);
  try {
    await fn();
    return undefined;
  } catch (err) {
    return err;
  } finally {
    ids.seteuid(0);
    ids.setegid(0);
    if (old !== undefined) process.umask(old);
  }
}

/** A directory NOBODY owns (its parents searchable), for the steps run as NOBODY. */
function nobodysDirectory(name: string): string {
  chmodSync(tmp.dir, 0o711);
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  chownSync(dir, NOBODY, NOBODY);
  return dir;
}

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

// Found by a review of the change above, each a step that worked with writeFile and chmod by name.

test('as a non-root user under umask 0277, nested missing parents are made with their mode', async () => {
  // Every directory was made first and given its mode after: under a umask taking the owner's
  // write bit the second level could not be made in the first (0500).
  const base = nobodysDirectory('home');
  const dir = join(base, 'srv', 'regauth', 'keys');
  expect(String(await asNobody(() => keysInit(dir), 0o277))).toBe('undefined');
  expect([mode(join(base, 'srv')), mode(join(base, 'srv', 'regauth')), mode(dir)]).toEqual([
    '755',
    '755',
    '700',
  ]);
});

test('a token.pem an earlier run left, owned by another user, is rewritten as it is', async () => {
  // Setting its mode too (only its owner may) failed with EPERM after token.key was written, and
  // every later keys init was refused: "token.key exists".
  const dir = nobodysDirectory('shared-keys');
  chmodSync(dir, 0o700);
  const pem = join(dir, 'token.pem');
  writeFileSync(pem, 'stale\n');
  chownSync(pem, 0, NOBODY);
  chmodSync(pem, 0o664);
  expect(String(await asNobody(() => keysInit(dir)))).toBe('undefined');
  expect(existsSync(join(dir, 'token.key'))).toBe(true);
});

test('a directory made with its mode already is not refused for belonging to another uid (NFS all_squash)', async () => {
  // What an export squashing owners makes for this process belongs to another uid; setting the
  // mode it already has failed with EPERM, and keys init refused the setup.
  chmodSync(tmp.dir, 0o711);
  const dir = join(tmp.dir, 'squashed');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  chownSync(dir, 12345, 12345);
  expect(String(await asNobody(() => chmodDirectory(dir, 0o755)))).toBe('undefined');
});
