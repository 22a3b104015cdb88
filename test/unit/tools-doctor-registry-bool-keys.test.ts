/**
 * Found by a review of 41ae09c, which read the whole registry config.yml with yaml.v2's booleans
 * (now only auth.token.autoredirect's value is read so).
 *
 * The registry decodes auth.token (and every other section doctor could meet) into Go maps and
 * structs keyed by string: yaml.v2 gives a key the text written (decode.go scalar(): reflect.String
 * takes n.value), so `on:` and `yes:` are two keys there, and a key written twice is simply
 * overwritten (no strict mode). 41ae09c read `on`, `yes`, `Y`... as the boolean true, which
 * js-yaml stores under the JavaScript key "true": two such keys in one mapping collide, and doctor
 * refuses the registry's file (exit 2) with a message about docker_auth and a key "true" nobody
 * wrote. Before it these were strings and the file was read.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { readRegistryConfig } from '../../src/tools/doctor.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-own-doctor-bool-keys-');
afterAll(() => tmp.cleanup());

const TOKEN =
  'auth:\n  token:\n    realm: https://auth.example.com/auth/token\n    service: registry.test\n    issuer: acme\n    rootcertbundle: /certs/bundle.pem\n';

function write(name: string, text: string): string {
  const file = join(tmp.dir, name);
  writeFileSync(file, text);
  return file;
}

function message(fn: () => unknown): string {
  try {
    fn();
    return '(no error)';
  } catch (err) {
    return String((err as Error).message) + JSON.stringify(err);
  }
}

// The registry starts with this file: http.headers is map[string][]string, two header names.
test('doctor reads a registry config whose mapping has two keys yaml.v2 resolves as booleans', () => {
  const file = write(
    'two-bool-keys.yml',
    `version: 0.1\nhttp:\n  headers:\n    on: [a]\n    yes: [b]\n${TOKEN}`,
  );
  let token: unknown;
  expect(() => ({ token } = readRegistryConfig(file))).not.toThrow();
  expect(token).toMatchObject({ service: 'registry.test', issuer: 'acme' });
});

// A key written twice is refused as such (as for any other key): "given twice", at the key
// written, not at a key "true" with advice to quote `on` "to keep both" (they are one key), and
// not naming docker_auth in the registry's file (readRegistryConfig passes lastWins = null).
test('a bool-spelled key given twice in the registry config is reported as given twice, at its name', () => {
  const file = write('twice.yml', `version: 0.1\n${TOKEN}    on: x\n    on: y\n`);
  const said = message(() => readRegistryConfig(file));
  expect(said).toMatch(/auth\.token\.on/);
  expect(said).toMatch(/given twice/);
  expect(said).not.toMatch(/auth\.token\.true/);
  expect(said).not.toMatch(/docker_auth/);
});
