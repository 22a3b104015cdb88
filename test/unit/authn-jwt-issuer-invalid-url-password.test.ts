/**
 * Found by a review of a12eb87 ("Refuse a user or password in an issuer URL ... without repeating it").
 *
 * A credential URL that does not parse (a port out of range, a space or stray `%` in the host, an
 * unclosed IPv6 bracket: typos of the very URL a12eb87 refuses) never reaches the new check: the
 * `catch` of `new URL` answers `invalid URL "<the whole value>"`, so the config error, printed by
 * `regauth serve`, `validate` and the reload log, repeats the password a12eb87 promises not to
 * repeat. Applies to jwt_auth issuers (issuer, jwks_uri) and oidc_auth issuer and redirect_url.
 * Fix: src/authn/jwt/config.ts issuerUrl — say "invalid URL" without the value (or with its
 * userinfo masked, e.g. everything up to the last `@` before the host replaced).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r6-issuer-invalid-');
let head = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  head = `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nacl: []\n`;
});
afterAll(() => tmp.cleanup());

function messages(text: string): string[] {
  try {
    loadConfigText(text, { file: join(tmp.dir, 'config.yml') });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigErrors);
    return (err as ConfigErrors).errors.map((e) => e.message);
  }
  throw new Error('the config loaded');
}

const unparsable = [
  'https://ci:s3cret-in-url@token.example.com:99999',
  'https://ci:s3cret-in-url@token example.com',
  'https://ci:s3cret-in-url@[::1',
];

test.each(unparsable)('jwt_auth issuer %s is refused without the password', (issuer) => {
  const m = messages(`${head}jwt_auth:\n  issuers:\n    - issuer: '${issuer}'\n      audience: regauth\n`);
  expect(m).toEqual([expect.stringMatching(/jwt_auth\.issuers\[0\]\.issuer: /)]);
  expect(m.join('\n')).not.toContain('s3cret-in-url');
});

test.each(unparsable)('oidc_auth redirect_url %s is refused without the password', (url) => {
  const m = messages(
    `${head}oidc_auth:\n  issuer: https://sso.example.com\n  client_id: c\n  client_secret: s\n` +
      `  redirect_url: '${url}'\n  registry_url: registry.example.com\n  secret_file: oidc.key\n`,
  );
  expect(m.some((x) => /oidc_auth\.redirect_url: /.test(x))).toBe(true);
  expect(m.join('\n')).not.toContain('s3cret-in-url');
});
