/**
 * docs/configuration.md "Every key of docker_auth's reference config": a key left empty means
 * unset where docker_auth reads it so. docker_auth runs an ext_auth command with `args:` left
 * empty with no arguments, and signs with server.certificate and server.key when token.certificate
 * and token.key are left empty; regauth answered "must be a list" and "must be a string", as if a
 * wrong value had been written. Found by a review.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { configErrors } from '../helpers/config.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-docker-auth-empty-');
let keys: { keyPath: string; certPath: string };
beforeAll(async () => {
  keys = await writeSigningKey(tmp.dir);
});
afterAll(() => tmp.cleanup());

/** The load's errors as `path: message` lines; [] when it loads. */
const errorsOf = (yaml: string) => configErrors(yaml, tmp.dir);

test('an empty ext_auth.args (YAML null: no arguments in docker_auth) loads', () => {
  const errors = errorsOf(
    `token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nusers: {}\nacl: []\next_auth:\n  command: /bin/true\n  args:\n`,
  );
  expect(errors).toEqual([]);
});

test.each(['', '""'])(
  'token.certificate and token.key left empty (%s) load: docker_auth signs with server.certificate and server.key',
  (empty) => {
    const errors = errorsOf(
      `server:\n  certificate: ${keys.certPath}\n  key: ${keys.keyPath}\ntoken:\n  issuer: t\n  certificate: ${empty}\n  key: ${empty}\nusers: {}\nacl: []\n`,
    );
    expect(errors).toEqual([]);
  },
);
