/**
 * docs/cli.md "`regauth doctor`": a mistake in a file gets one clear line naming it. A registry
 * config that was not YAML got "YAML syntax error: …" without its file or line, and a key given
 * twice in it blamed docker_auth, which never reads the registry's file. Found by a review.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-doctor-yaml-');
let config = '';
beforeAll(async () => {
  const keys = await writeSigningKey(tmp.dir);
  config = join(tmp.dir, 'config.yml');
  writeFileSync(
    config,
    `token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`,
  );
});
afterAll(() => tmp.cleanup());

test('doctor: a registry config with a YAML syntax error is refused naming that file and the line', async () => {
  const registry = join(tmp.dir, 'registry.yml');
  writeFileSync(registry, 'version: 0.1\nauth:\n  token:\n    issuer: [t\n');
  const run = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  expect(run.code).toBe(2);
  // Today: "regauth: YAML syntax error: unexpected end of the stream within a flow collection".
  expect(run.stderr).toContain('registry.yml');
  expect(run.stderr).toMatch(/line \d/);
});

test("doctor: a key given twice in the registry's config is reported with its file, without docker_auth's name", async () => {
  const registry = join(tmp.dir, 'registry-twice.yml');
  writeFileSync(registry, 'version: 0.1\nauth:\n  token:\n    issuer: t\n    issuer: u\n');
  const run = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('registry-twice.yml');
  // The registry's config is read by the registry, not by docker_auth.
  expect(run.stderr).not.toMatch(/docker_auth/);
});
