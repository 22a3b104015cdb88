/**
 * Found by a review of 70203ce ("Judge a reload's move to server.key on the config as loaded, by file").
 *
 * keepSigningKeySource (src/service/load.ts) refuses a reload when "the running config signed with
 * token.key and the new one signs with its TLS key, from another file". It decides "signed with
 * token.key" as `running.token.keyPath !== running.server.tls?.keyPath`, which is also true of a
 * running config that names no key at all and signs with the development key (data/token.key;
 * no TLS, so the TLS key path is undefined). A server started on the development key whose config
 * is then given its TLS files (server.certificate/server.key, docker_auth's way: they sign too)
 * is refused with "token.key: no longer set; the running config signs with token.key", though it
 * never named token.key, and moving from the development key to a named key is allowed for
 * token.key. Before 70203ce (4e23103) this reload went through (namedTokenKey was false).
 * Fix: src/service/load.ts keepSigningKeySource — apply only when the running config named its
 * key (namedKey === true / running.token.keyPath not the development key).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { HeldNotices, serviceLoader } from '../../src/service/load.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r4-devkey-');
afterAll(() => tmp.cleanup());

test('a server on the development key takes a reload that adds TLS files (which then sign)', async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const file = join(tmp.dir, 'config.yml');
  const rest = 'token: {issuer: t}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n';
  writeFileSync(file, `server: {addr: "127.0.0.1:0"}\n${rest}`);
  const loader = serviceLoader(file, join(tmp.dir, 'data'), new HeldNotices());
  const running = await loader.load();
  expect(running.server.tls).toBeUndefined();

  writeFileSync(file, `server: {addr: "127.0.0.1:0", certificate: ${certPath}, key: ${keyPath}}\n${rest}`);
  // Today: ConfigErrors "token.key: no longer set; the running config signs with token.key, ...".
  const next = await loader.load(running).catch((e: unknown) => e as Error);
  expect(next instanceof Error ? next.message : 'loaded').toBe('loaded');
  expect((next as Awaited<ReturnType<typeof loader.load>>).token.keyPath).toBe(keyPath);
});
