/**
 * Found by a review of 4e23103 ("Refuse a reload that would sign with server.key instead of token.key").
 *
 * The guard (src/service/load.ts) refuses any reload whose config names no token.key when the
 * running one did, saying "a reload never moves to signing with server.key (the registry does not
 * trust it)". Whether the registry trusts the key is the point (docs/operations.md: "a reload
 * never moves to the development key, nor to the TLS listener's server.key ..., keys the
 * registry does not trust"), but the guard never compares keys: a docker_auth config that names
 * the same files under server: and token: (common: one certificate for TLS and signing) and drops
 * the redundant token.key/token.certificate is refused, though the key that signs is unchanged,
 * and told the registry does not trust a key it does.
 * Fix: src/service/load.ts, refuse only when the key the new config signs with is not the one
 * the running config signs with (compare running.token.keyPath / the key's kid).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { HeldNotices, serviceLoader } from '../../src/service/load.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r3-same-key-');
afterAll(() => tmp.cleanup());

test('dropping token.key that named the same key as server.key reloads: the signing key is unchanged', async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const file = join(tmp.dir, 'config.yml');
  const server = `server: {addr: "127.0.0.1:0", certificate: ${certPath}, key: ${keyPath}}\n`;
  const rest = 'users: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n';
  writeFileSync(file, `${server}token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\n${rest}`);
  const loader = serviceLoader(file, join(tmp.dir, 'data'), new HeldNotices());
  const running = await loader.load();
  writeFileSync(file, `${server}token: {issuer: t}\n${rest}`);
  // Today: refused, "token.key: no longer set; ... never moves to signing with server.key (the registry does not trust it)".
  const next = await loader.load(running).catch((e: unknown) => (e as Error).message);
  expect(typeof next === 'string' ? next : next.token.key.kid).toBe(running.token.key.kid);
});
