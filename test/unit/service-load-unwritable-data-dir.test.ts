import { chmodSync, chownSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { HeldNotices, serviceLoader } from '../../src/service/load.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * A data directory `regauth serve` may not write (the image's /app/data run with `--user` other
 * than 1000, a root-owned bind mount): the development key or refresh secret it would create
 * there. It said `EACCES: permission denied, open '/app/data/token.key'`, nothing of why regauth
 * writes there or what to do.
 */

const tmp = tempDir('regauth-unwritable-data-');
afterAll(() => tmp.cleanup());

/** The tests run as root; the loads below run as nobody, for whom root's 0755 directory is read-only. */
const NOBODY = 65534;
const ids = process as Required<Pick<NodeJS.Process, 'seteuid' | 'setegid'>>;

async function loadAsNobody(configFile: string, dataDir: string): Promise<unknown> {
  // Once as root into a directory it may write: every module the load imports on first use is
  // loaded now (nobody may not read a checkout under a 0700 temporary directory).
  const warm = join(tmp.dir, `warm-${Math.random().toString(36).slice(2)}`);
  await serviceLoader(configFile, warm, new HeldNotices()).load();
  ids.setegid(NOBODY);
  ids.seteuid(NOBODY);
  try {
    await serviceLoader(configFile, dataDir, new HeldNotices()).load();
    return undefined;
  } catch (err) {
    return err;
  } finally {
    ids.seteuid(0);
    ids.setegid(0);
  }
}

function setUp(name: string, config: string): { configFile: string; dataDir: string } {
  chmodSync(tmp.dir, 0o755);
  const dir = join(tmp.dir, name);
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  const configFile = join(dir, 'config.yml');
  writeFileSync(configFile, config, { mode: 0o644 });
  return { configFile, dataDir };
}

test('a development key the data directory will not take: the YAML path to set, the directory, what to do', async () => {
  expect(process.geteuid?.(), 'the test runs as root, to act as another user').toBe(0);
  const { configFile, dataDir } = setUp(
    'key',
    "server: {addr: '127.0.0.1:0'}\ntoken: {issuer: test}\nusers: {}\nacl: []\n",
  );
  const err = (await loadAsNobody(configFile, dataDir)) as Error;
  expect(err).toBeInstanceOf(Error);
  expect(err.message).toContain('token.key: not set');
  expect(err.message).toContain(`${dataDir}/token.key`);
  expect(err.message).toContain('EACCES');
  expect(err.message).toContain(`uid ${NOBODY}`);
  expect(err.message).toContain('--data-dir');
  expect(err.message).toContain('token.certificate');
  expect(err.message).not.toMatch(/^EACCES/);
  expect(readdirSync(dataDir)).toEqual([]);
});

test('a development refresh secret the data directory will not take: token.refresh.secret_file to set', async () => {
  const { configFile, dataDir } = setUp('refresh', '');
  const keys = join(tmp.dir, 'refresh', 'keys');
  mkdirSync(keys, { mode: 0o755 });
  const { keyPath, certPath } = await writeSigningKey(keys);
  chownSync(keyPath, NOBODY, NOBODY);
  writeFileSync(
    configFile,
    `server: {addr: '127.0.0.1:0'}\ntoken: {issuer: test, key: ${keyPath}, certificate: ${certPath}, refresh: {}}\nusers: {}\nacl: []\n`,
  );
  const err = (await loadAsNobody(configFile, dataDir)) as Error;
  expect(err).toBeInstanceOf(Error);
  expect(err.message).toContain('token.refresh.secret_file: not set');
  expect(err.message).toContain(`${dataDir}/refresh.key`);
  expect(err.message).toContain('EACCES');
  expect(err.message).toContain('--data-dir');
  expect(readdirSync(dataDir)).toEqual([]);
});
