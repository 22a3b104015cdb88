import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { HeldNotices, PENDING_BLOCK, serviceLoader } from '../../src/service/load.js';
import { hash, tempDir } from '../helpers/fixtures.js';

/**
 * Found by a review of 7ceb7e4. The development key is written with 'wx' and its certificate renamed into
 * place, so that nothing already in the data directory (a planted symlink) is written through
 * (src/token/generate.ts pendingDevKeys). The registry-block.pending marker beside them is
 * written with writeFileSync's default 'w': a symlink in its place is followed, and its target
 * truncated to nothing.
 */
const tmp = tempDir('regauth-review-r8-marker-');
afterAll(() => tmp.cleanup());

test('a symlink where registry-block.pending goes is not written through', async () => {
  const data = join(tmp.dir, 'data');
  mkdirSync(data);
  const victim = join(tmp.dir, 'victim.txt');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, join(data, PENDING_BLOCK));
  const configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:5001"}
token: {issuer: t, services: [registry.test]}
users:
  alice: {password: "${hash('alice-pw-1')}"}
acl: [{match: {account: alice}, actions: [pull]}]
`,
  );
  const loader = serviceLoader(configFile, data, new HeldNotices());
  await loader.load().catch(() => undefined);
  expect(readFileSync(victim, 'utf8')).toBe('precious\n');
});
