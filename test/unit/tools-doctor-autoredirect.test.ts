/**
 * Found by a review of `regauth doctor` and `validate`.
 * `regauth doctor` checks that the realm's path is regauth's token endpoint. Registry 2.8 (and v3)
 * ignores `realm` when `auth.token.autoredirect: true`: its challenge sends clients to
 * `https://<the registry's own host>/auth/token` (distribution v2.8.3
 * registry/auth/token/accesscontroller.go, challengeParams). With `server.path_prefix` set,
 * regauth's endpoint is `/regauth/auth/token`, which that URL never reaches: every login fails,
 * yet doctor calls the realm regauth's token endpoint and the registry trusting regauth.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-doctor-autoredirect-');
let config = '';
let bundle = '';
beforeAll(async () => {
  const { keyPem, certPem } = await generateSigningMaterial({
    alg: 'ES256',
    commonName: 't',
    validDays: 365,
  });
  const keys = { keyPath: join(tmp.dir, 'token.key'), certPath: join(tmp.dir, 'token.pem') };
  writeFileSync(keys.keyPath, keyPem, { mode: 0o600 });
  writeFileSync(keys.certPath, certPem);
  bundle = keys.certPath;
  config = join(tmp.dir, 'config.yml');
  writeFileSync(
    config,
    `server: {path_prefix: /regauth}\ntoken: {issuer: acme, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`,
  );
});
afterAll(() => tmp.cleanup());

test('doctor: autoredirect sends clients to /auth/token on the registry host, not to the realm', async () => {
  const registry = join(tmp.dir, 'registry.yml');
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://auth.example.com/regauth/auth\n    service: registry.test\n    issuer: acme\n    rootcertbundle: ${bundle}\n    autoredirect: true\n`,
  );
  const run = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  // Without autoredirect, this registry config is all well (the control).
  writeFileSync(
    registry.replace('.yml', '-plain.yml'),
    readFileSync(registry, 'utf8').replace('    autoredirect: true\n', ''),
  );
  const plain = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry.replace('.yml', '-plain.yml'),
  ]);
  expect(plain.code).toBe(0);
  // Clients never see this realm: the registry answers with https://<its host>/auth/token.
  expect(run.stdout).not.toMatch(/^ok {3}realm:/m);
  expect(run.stdout).not.toContain('the registry trusts regauth');
  expect(run.code).toBe(1);
});
