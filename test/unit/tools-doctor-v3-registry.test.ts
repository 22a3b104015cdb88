/**
 * Found by a review of `regauth doctor` and `validate`.
 * doctor covers registry v3 (its `jwks`). Two v3 facts it gets wrong (distribution v3.0.0
 * registry/auth/token/token.go, VerifySigningKey; accesscontroller.go, checkOptions):
 * - v3 verifies a token's x5c chain against rootcertbundle first and reads the jwks only for a
 *   token without x5c: with token.x5c (the default) a jwks without regauth's kid changes nothing,
 *   yet doctor reports "registry v3 rejects kid-only tokens" and exits 1;
 * - `auth.token.signingalgorithms` limits the algorithms v3 accepts: a list without regauth's
 *   (ES256 here) has every token refused, yet doctor says the registry trusts regauth.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { setup } from '../helpers/doctor-registry.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-doctor-v3-');
let config = '';
let cert = '';
beforeAll(async () => {
  // token.x5c defaults to true: every token carries its certificate chain.
  ({ config, certPath: cert } = await setup(tmp.dir));
});
afterAll(() => tmp.cleanup());

const registry = (name: string, extra: string) => {
  const file = join(tmp.dir, name);
  writeFileSync(
    file,
    `version: 0.1\nauth:\n  token:\n    realm: https://r.example.com/auth\n    service: registry.test\n    issuer: acme\n    rootcertbundle: ${cert}\n${extra}`,
  );
  return file;
};

test('doctor: with x5c tokens, a v3 jwks without our kid is no problem (v3 verifies the chain)', async () => {
  expect(readFileSync(config, 'utf8')).not.toContain('x5c');
  const jwks = join(tmp.dir, 'jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [] }));
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('v3-jwks.yml', `    jwks: ${jwks}\n`),
  ]);
  expect(run.stdout).not.toMatch(/^FAIL jwks:/m);
  expect(run.code).toBe(0);
});

test('doctor: v3 signingalgorithms without the algorithm regauth signs with is a finding', async () => {
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('v3-algs.yml', '    signingalgorithms: [RS256]\n'),
  ]);
  expect(run.stdout).not.toContain('the registry trusts regauth');
  expect(run.stdout).toMatch(/signingalgorithms/);
  expect(run.code).toBe(1);
});
