import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { HeldNotices, PENDING_BLOCK, serviceLoader } from '../../src/service/load.js';
import { hash, tempDir } from '../helpers/fixtures.js';

/**
 * Found by a review of 04aa566, which removed the development files a start that cannot listen
 * had made: by path, so when two first starts share a data directory (`npm start` in two
 * terminals), the one that lost the port removed the key the other was serving with. Nothing is
 * removed now: the key's registry block is printed by the first start that listens.
 */
const tmp = tempDir('regauth-dev-key-block-');
afterAll(() => tmp.cleanup());

test('a key made by a start that could not listen: the next start that listens prints its block, once', async () => {
  const data = join(tmp.dir, 'data');
  const configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:5001"}
token: {issuer: t, services: [registry.test], refresh: {}}
users:
  alice: {password: "${hash('alice-pw-1')}"}
acl: [{match: {account: alice}, actions: [pull]}]
`,
  );
  const a = serviceLoader(configFile, data, new HeldNotices());
  await a.load();
  expect(a.createdDevKey).toBe(true);
  // A cannot listen: it prints nothing, and removes nothing.
  const b = serviceLoader(configFile, data, new HeldNotices());
  await b.load();
  expect(b.createdDevKey).toBe(false);
  expect(b.blockPending).toBe(true);
  b.blockShown();
  for (const file of ['token.key', 'token.pem', 'refresh.key'])
    expect(existsSync(join(data, file))).toBe(true);
  expect(existsSync(join(data, PENDING_BLOCK))).toBe(false);
  const c = serviceLoader(configFile, data, new HeldNotices());
  await c.load();
  expect(c.blockPending).toBe(false);
});
