/**
 * Found by a review of 6129630 (doctor: the rotation advice carries `--publish DIR` when the registry's
 * bundle.pem is outside the key directory). DIR is worked out from the path the registry config
 * names (its basename must be bundle.pem) and from where that path leads (its directory), so:
 *
 * 1. A registry config naming the published copy through a symlink of another name
 *    (rootcertbundle: root.crt -> /trust/bundle.pem, which `keys --publish /trust` writes): no
 *    --publish in the advice, so the advised activate never updates the registry's copy.
 * 2. A config naming `bundle.pem` (relative, against the registry config's directory) that is a
 *    symlink to a file named otherwise (/trust/trust.pem): the advice says `--publish /trust`,
 *    which writes /trust/bundle.pem, a file the registry does not read, and the advised activate
 *    is refused (/trust/bundle.pem does not hold the next key).
 * 3. A bundle.pem in a directory that holds the key directory (/srv/reg/bundle.pem, keys in
 *    /srv/reg/keys): `--publish /srv/reg` is advised, which every `keys` step refuses.
 * 4. A publish directory with a space: `--publish DIR` is not quoted (keys.ts quotes it).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { keysInit, keysRotate } from '../../src/tools/keys.js';
import { ensureBuilt } from '../helpers/build.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = tempDir('regauth-review-own4-doctor-');
afterAll(() => tmp.cleanup());
beforeAll(() => ensureBuilt(), 120_000);

/** A regauth config for the keys in `keys`, and a registry config in `registryDir` naming `bundle`. */
function configs(name: string, keys: string, registryDir: string, bundle: string) {
  mkdirSync(registryDir, { recursive: true });
  const registry = join(registryDir, `${name}-registry.yml`);
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://r.test/auth\n    service: r.test\n    issuer: regauth\n` +
      `    rootcertbundle: ${bundle}\n`,
  );
  const config = join(tmp.dir, `${name}-config.yml`);
  writeFileSync(
    config,
    `token: {issuer: regauth, x5c: false, key: ${keys}/token.key, certificate: ${keys}/token.pem}\nusers: {"": {}}\nacl: []\n`,
  );
  return { registry, config };
}

/** The activate command the rotation line advises. */
async function advisedActivate(config: string, registry: string): Promise<string> {
  const doctor = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  const rotation = doctor.stdout.split('\n').find((l) => l.includes('rotation pending'));
  expect(rotation, doctor.stdout).toBeDefined();
  const command = /`(regauth keys activate [^`]+)`/.exec(doctor.stdout);
  expect(command, doctor.stdout).not.toBeNull();
  return command![1]!;
}

/** Runs an advised command as a shell would, with this checkout's regauth. */
function runAdvised(command: string) {
  const shellCommand = command.replace(
    /^regauth /,
    `'${process.execPath}' '${join(ROOT, 'dist/cli/main.js')}' `,
  );
  return spawnSync('/bin/sh', ['-c', shellCommand], {
    encoding: 'utf8',
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
}

test('a published bundle.pem named through a symlink of another name: the advice carries --publish', async () => {
  const keys = join(tmp.dir, 'a-keys');
  const trust = join(tmp.dir, 'a-trust');
  await keysInit(keys, { publish: trust });
  await keysRotate(keys, { publish: trust });
  const registryDir = join(tmp.dir, 'a-registry');
  mkdirSync(registryDir);
  symlinkSync(join(trust, 'bundle.pem'), join(registryDir, 'root.crt'));
  const { registry, config } = configs('a', keys, registryDir, 'root.crt');
  const command = await advisedActivate(config, registry);
  expect(command, command).toContain(`--publish ${realpathSync(trust)}`);
});

test('bundle.pem (relative) leading to a file named otherwise: the advised activate is not refused', async () => {
  const keys = join(tmp.dir, 'b-keys');
  const trust = join(tmp.dir, 'b-trust');
  await keysInit(keys);
  await keysRotate(keys);
  // The operator copies the rotated bundle to where the registry reads it, under its own name.
  mkdirSync(trust);
  copyFileSync(join(keys, 'bundle.pem'), join(trust, 'trust.pem'));
  const registryDir = join(tmp.dir, 'b-registry');
  mkdirSync(registryDir);
  symlinkSync(join(trust, 'trust.pem'), join(registryDir, 'bundle.pem'));
  const { registry, config } = configs('b', keys, registryDir, 'bundle.pem');
  const command = await advisedActivate(config, registry);
  const run = runAdvised(command);
  expect(run.status, `${command}\n${run.stderr}`).toBe(0);
});

test('bundle.pem in a directory that holds the key directory: the advised activate is not refused', async () => {
  const top = join(tmp.dir, 'c-srv');
  const keys = join(top, 'keys');
  await keysInit(keys);
  await keysRotate(keys);
  copyFileSync(join(keys, 'bundle.pem'), join(top, 'bundle.pem'));
  const { registry, config } = configs('c', keys, join(tmp.dir, 'c-registry'), join(top, 'bundle.pem'));
  const command = await advisedActivate(config, registry);
  const run = runAdvised(command);
  expect(run.status, `${command}\n${run.stderr}`).toBe(0);
});

test('a publish directory with a space: the advised activate runs as written', async () => {
  const keys = join(tmp.dir, 'd-keys');
  const trust = join(tmp.dir, 'd trust');
  await keysInit(keys, { publish: trust });
  await keysRotate(keys, { publish: trust });
  const { registry, config } = configs('d', keys, join(tmp.dir, 'd-registry'), join(trust, 'bundle.pem'));
  const command = await advisedActivate(config, registry);
  const run = runAdvised(command);
  expect(run.status, `${command}\n${run.stderr}`).toBe(0);
});
