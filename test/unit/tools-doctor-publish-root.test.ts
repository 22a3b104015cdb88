/**
 * Found by a review of e7c471b. doctor advises `--publish DIR2` when the registry's bundle is a bundle.pem
 * outside the key directory "and every directory holding it", tested as
 * `dir.startsWith(copy + sep)`. For a bundle at /bundle.pem (doctor run in a container where the
 * registry's bundle is mounted at /bundle.pem) copy is "/", `copy + sep` is "//", and the test
 * never matches: the advice says `--publish /`, which every `keys` step refuses (withPublished:
 * `target === sep`, "is or holds the key directory"). Modelled by a realpathSync that says the
 * registry's bundle leads to /bundle.pem (nothing is written outside the test's directory).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test, vi } from 'vitest';
import { keysInit, keysRotate } from '../../src/tools/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const mark = vi.hoisted(() => ({ path: '' }));
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const realpathSync = ((p: string, ...rest: unknown[]) =>
    mark.path !== '' && String(p) === mark.path
      ? '/bundle.pem'
      : (fs.realpathSync as (...a: unknown[]) => string)(p, ...rest)) as typeof fs.realpathSync;
  return { ...fs, default: { ...fs, realpathSync }, realpathSync };
});

const tmp = tempDir('regauth-review-own5-root-');
afterAll(() => tmp.cleanup());

test('a registry bundle at /bundle.pem: no `--publish /` (which every keys step refuses)', async () => {
  const keys = join(tmp.dir, 'keys');
  const trust = join(tmp.dir, 'trust');
  await keysInit(keys, { publish: trust });
  await keysRotate(keys, { publish: trust });
  const registryDir = join(tmp.dir, 'registry');
  mkdirSync(registryDir);
  const registry = join(registryDir, 'config.yml');
  mark.path = join(trust, 'bundle.pem');
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://r.test/auth\n    service: r.test\n    issuer: regauth\n` +
      `    rootcertbundle: ${mark.path}\n`,
  );
  const config = join(tmp.dir, 'config.yml');
  writeFileSync(
    config,
    `token: {issuer: regauth, x5c: false, key: ${keys}/token.key, certificate: ${keys}/token.pem}\nusers: {"": {}}\nacl: []\n`,
  );
  const doctor = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  const line = doctor.stdout.split('\n').find((l) => l.includes('rotation pending')) ?? '';
  expect(line, doctor.stdout).toContain('regauth keys activate');
  expect(line).not.toMatch(/--publish \/`/);
});
