/**
 * Found by a review of what regauth logs: an issuer URL with a user or password loaded, and the
 * error of each fetch of its discovery document or keys (fetch sends no URL with credentials)
 * quoted the URL, password included, in the log. An issuer is public: such a URL is refused at
 * load, without repeating it, as catalog.registry_url and store.url are.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-jwt-issuer-credentials-');
let head = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  head = `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nacl: []\n`;
});
afterAll(() => tmp.cleanup());

test.each(['https://ci:s3cret-in-url@token.example.com', 'http://:s3cret-in-url@127.0.0.1:8080'])(
  'jwt_auth issuer %s is refused with its path, without the password',
  (issuer) => {
    let error: unknown;
    try {
      loadConfigText(`${head}jwt_auth:\n  issuers:\n    - issuer: ${issuer}\n      audience: regauth\n`, {
        file: join(tmp.dir, 'config.yml'),
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigErrors);
    const messages = (error as ConfigErrors).errors.map((e) => e.message);
    expect(messages).toEqual([
      expect.stringMatching(/jwt_auth\.issuers\[0\]\.issuer: must not hold a user or password/),
    ]);
    expect(messages.join('\n')).not.toContain('s3cret-in-url');
  },
);
