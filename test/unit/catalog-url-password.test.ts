/**
 * Found by a review of what regauth logs (audit line, app log, metrics).
 *
 * docs/security.md: passwords never appear in a log line or an error.
 * `store.url` refuses a user or password in its URL for that reason (docs/operations.md: "a
 * user, password, query, fragment ... is refused"); `catalog.registry_url` takes one. fetch can
 * never send such a URL ("Request cannot be constructed from a URL that includes credentials:
 * <the URL>"), so every catalog read fails, and the catalog handler logs that message as the
 * `reason` of `catalog unavailable`: the password, in every such line.
 */
import { afterAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-logs-catalog-');
const pw = randomPassword();
const registryPassword = `reg-${randomPassword()}`;

const config = ({ keyPath, certPath }: { keyPath: string; certPath: string }) => `server:
  addr: "127.0.0.1:0"
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [reg]
users:
  alice: {password: "${hash(pw)}"}
acl:
  - match: {account: alice}
    actions: [pull]
catalog:
  registry_url: http://admin:${registryPassword}@127.0.0.1:9
  realm: http://h/auth
`;

afterAll(() => tmp.cleanup());

test('a registry_url with a password is refused at load, without repeating it (as store.url is)', async () => {
  const keys = await writeSigningKey(tmp.dir);
  let message = '';
  try {
    loadConfigText(config(keys));
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toMatch(/catalog\.registry_url/);
  expect(message).not.toContain(registryPassword);
});

test.each(['http://admin@127.0.0.1:9', 'http://:pw@127.0.0.1:9'])(
  '%s: a user alone, or a password alone, is refused too',
  async (url) => {
    const keys = await writeSigningKey(tmp.dir);
    expect(() => loadConfigText(config(keys).replace(/registry_url: .*/, `registry_url: ${url}`))).toThrow(
      /catalog\.registry_url: must not hold a user or password/,
    );
  },
);
