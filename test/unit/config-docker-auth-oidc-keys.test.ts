/**
 * docs/configuration.md "Every key of docker_auth's reference config": every docker_auth key is
 * taken as it is or refused by name with what to do instead, never a generic "unknown key".
 * docker_auth's code reads oidc_auth.labels_claims (its reference comment spells it label_claims,
 * as regauth does), and has the gcs_token_db and redis_token_db token stores: all three got
 * "unknown key". Found by a review.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { configErrors } from '../helpers/config.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-docker-auth-oidc-');
let keys: { keyPath: string; certPath: string };
beforeAll(async () => {
  keys = await writeSigningKey(tmp.dir);
});
afterAll(() => tmp.cleanup());

/** The load's errors as `path: message` lines; [] when it loads. */
const errorsOf = (yaml: string) => configErrors(yaml, tmp.dir);

test('oidc_auth.labels_claims (the key docker_auth reads) is refused by name, pointing at label_claims, not as a generic unknown key', () => {
  // docker_auth's OIDCAuthConfig reads `labels_claims` (yaml:"labels_claims"); only its
  // reference.yml comment spells it label_claims.
  const errors = errorsOf(
    `token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nusers: {}\nacl: []\noidc_auth:\n  issuer: https://sso.example.com\n  client_id: c\n  client_secret: s\n  redirect_url: https://auth.example.com/oidc/callback\n  registry_url: registry.example.com\n  labels_claims: [groups]\n`,
  );
  const line = errors.find((e) => e.startsWith('oidc_auth.labels_claims'));
  expect(line).toBeDefined();
  expect(line).not.toMatch(/^oidc_auth\.labels_claims: unknown key/);
  expect(line).toMatch(/label_claims/);
});

test.each(['gcs_token_db', 'redis_token_db'])(
  'oidc_auth.%s (a docker_auth token store) is refused by name like level_token_db',
  (key) => {
    const errors = errorsOf(
      `token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nusers: {}\nacl: []\noidc_auth:\n  issuer: https://sso.example.com\n  client_id: c\n  client_secret: s\n  redirect_url: https://auth.example.com/oidc/callback\n  registry_url: registry.example.com\n  ${key}: {bucket: b}\n`,
    );
    const line = errors.find((e) => e.startsWith(`oidc_auth.${key}`));
    expect(line).toMatch(/docker_auth key not supported by regauth/);
  },
);
