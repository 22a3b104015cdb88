/**
 * docs/configuration.md "Every key of docker_auth's reference config": YAML null under `token`
 * means unset for docker_auth's keys (8733e95). It also took regauth's own token.services: with
 * every entry commented out, `services:` used to be refused ("must be a list") and then loaded as
 * no restriction at all, every service served. It keeps its null, as token.refresh does, and
 * the JSON schema refuses it too. Found by a review of that change.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-services-');
let keys: { keyPath: string; certPath: string };
beforeAll(async () => {
  keys = await writeSigningKey(tmp.dir);
});
afterAll(() => tmp.cleanup());

test('token.services left empty (its entries commented out) is refused, not read as every service', () => {
  const yaml =
    `token:\n  issuer: t\n  key: ${keys.keyPath}\n  certificate: ${keys.certPath}\n  services:\n  #  - registry.example.org\n` +
    'users: {}\nacl: [{match: {}, actions: [pull]}]\n';
  let outcome: string;
  try {
    const config = loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });
    outcome = `loaded, services ${JSON.stringify(config.token.services)}`;
  } catch (err) {
    outcome = err instanceof ConfigErrors ? 'refused' : String(err);
  }
  expect(outcome).toBe('refused');
});
