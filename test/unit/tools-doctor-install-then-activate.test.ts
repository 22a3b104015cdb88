/**
 * Found by a review of e7c471b (doctor: --publish from where the bundle leads). When the registry reads a
 * published copy (C/bundle.pem) that lacks the next key (the rotate ran without --publish), the
 * rotation line says "install DIR/bundle.pem on the registry and restart it, then run
 * `regauth keys activate --dir DIR --publish C`". Done as said (DIR/bundle.pem copied over
 * C/bundle.pem, which the registry reads), the advised activate is refused: activate --publish
 * also demands that C/jwks.json hold the next key, which nothing advised wrote. The advice should
 * name `regauth keys publish --dir DIR --publish C` (which writes both), or its activate must run.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { keysInit, keysRotate } from '../../src/tools/keys.js';
import { ensureBuilt } from '../helpers/build.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = tempDir('regauth-review-own5-install-');
afterAll(() => tmp.cleanup());
beforeAll(() => ensureBuilt(), 120_000);

function runAdvised(command: string) {
  return spawnSync(
    '/bin/sh',
    ['-c', command.replace(/^regauth /, `'${process.execPath}' '${join(ROOT, 'dist/cli/main.js')}' `)],
    { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' },
  );
}

test('published copy lacking the next key: following the rotation advice, its activate is not refused', async () => {
  const keys = join(tmp.dir, 'keys');
  const trust = join(tmp.dir, 'trust');
  await keysInit(keys, { publish: trust });
  // The rotate ran without --publish: trust/bundle.pem (what the registry reads) lacks the next key.
  await keysRotate(keys);
  const registryDir = join(tmp.dir, 'registry');
  mkdirSync(registryDir);
  const registry = join(registryDir, 'config.yml');
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://r.test/auth\n    service: r.test\n    issuer: regauth\n` +
      `    rootcertbundle: ${join(trust, 'bundle.pem')}\n`,
  );
  const config = join(tmp.dir, 'config.yml');
  writeFileSync(
    config,
    `token: {issuer: regauth, x5c: false, key: ${keys}/token.key, certificate: ${keys}/token.pem}\nusers: {"": {}}\nacl: []\n`,
  );
  const doctor = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  const line = doctor.stdout.split('\n').find((l) => l.includes('rotation pending')) ?? '';
  expect(line, doctor.stdout).toContain('not the next key');
  // Following the advice as written: the copy written again, then the activation.
  const publish = /`(regauth keys publish [^`]+)`/.exec(line);
  const activate = /`(regauth keys activate [^`]+)`/.exec(line);
  expect(publish, line).not.toBeNull();
  expect(activate, line).not.toBeNull();
  expect(runAdvised(publish![1]!).status).toBe(0);
  const run = runAdvised(activate![1]!);
  expect(run.status, `${line}\n${run.stderr}`).toBe(0);
});

test('bundle.pem copied by hand where the registry reads it (no jwks there): the advised activate is not refused', async () => {
  const keys = join(tmp.dir, 'm-keys');
  const certs = join(tmp.dir, 'm-registry-certs');
  await keysInit(keys);
  await keysRotate(keys);
  // A registry v2 (no auth.token.jwks): the operator installs the rotated bundle as bundle.pem.
  mkdirSync(certs);
  copyFileSync(join(keys, 'bundle.pem'), join(certs, 'bundle.pem'));
  const registry = join(certs, 'config.yml');
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://r.test/auth\n    service: r.test\n    issuer: regauth\n` +
      `    rootcertbundle: bundle.pem\n`,
  );
  const config = join(tmp.dir, 'm-config.yml');
  writeFileSync(
    config,
    `token: {issuer: regauth, x5c: false, key: ${keys}/token.key, certificate: ${keys}/token.pem}\nusers: {"": {}}\nacl: []\n`,
  );
  const doctor = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  const line = doctor.stdout.split('\n').find((l) => l.includes('rotation pending')) ?? '';
  const activate = /`(regauth keys activate [^`]+)`/.exec(line);
  expect(activate, doctor.stdout).not.toBeNull();
  const run = runAdvised(activate![1]!);
  expect(run.status, `${line}\n${run.stderr}`).toBe(0);
});
