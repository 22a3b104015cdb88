/**
 * Found by a review of `regauth doctor` and `validate`.
 * Registry 2.8 reads `auth:` as exactly one access controller: with `htpasswd:` left beside
 * `token:` (a registry moved from htpasswd to regauth), it refuses to start ("must provide exactly
 * one type", distribution v2.8.3 configuration/configuration.go, Auth.UnmarshalYAML). doctor reads
 * auth.token alone and says the registry trusts regauth (exit 0).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { setup } from '../helpers/doctor-registry.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-doctor-auth-types-');
let config = '';
let cert = '';
beforeAll(async () => {
  ({ config, certPath: cert } = await setup(tmp.dir));
});
afterAll(() => tmp.cleanup());

const token = () =>
  `  token:\n    realm: https://r.example.com/auth\n    service: registry.test\n    issuer: acme\n    rootcertbundle: ${cert}\n`;

test('doctor: an auth section with htpasswd beside token is a registry that does not start', async () => {
  const ok = join(tmp.dir, 'registry-ok.yml');
  writeFileSync(ok, `version: 0.1\nauth:\n${token()}`);
  expect((await regauth(['doctor', '-c', config, '--registry-config', ok])).code).toBe(0);

  const registry = join(tmp.dir, 'registry.yml');
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  htpasswd:\n    realm: basic-realm\n    path: /auth/htpasswd\n${token()}`,
  );
  const run = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  expect(run.stdout + run.stderr).not.toContain('the registry trusts regauth');
  expect(run.stdout + run.stderr).toMatch(/htpasswd/);
  expect(run.code).not.toBe(0);
});
