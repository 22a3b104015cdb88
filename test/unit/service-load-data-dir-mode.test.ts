/**
 * Found by a review of signing keys.
 *
 * `regauth keys init` makes its key directory 0700 "whatever the umask" (docs/cli.md), because it
 * holds the private key. `regauth serve` makes the development key (`token.key`) and the
 * development refresh secret (`refresh.key`) in `--data-dir`, creating that directory (and its
 * parents) with src/core/mkdir.ts makeDirectorySync without a mode: 0777 less the umask.
 *
 * Under `umask 000` (a container or unit that sets it so) the data directory is 0777: the files
 * are 0600, but anyone on the host may rename them away and put their own in place (no sticky
 * bit), and regauth, which watches both, reloads with them. A planted `refresh.key` lets its
 * author mint refresh tokens that regauth accepts (for an `ldap_auth` account the name is all it
 * takes: directory accounts' refresh tokens carry no fingerprint); a planted
 * `token.key` makes regauth sign with a key of the planter's choosing.
 */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { HeldNotices, serviceLoader } from '../../src/service/load.js';
import { hash, tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-data-dir-mode-');
const original = process.umask(0o022);
afterAll(() => {
  process.umask(original);
  tmp.cleanup();
});

test('under umask 000 the data directory holding the development key and refresh secret is not writable by others', async () => {
  const data = join(tmp.dir, 'state', 'data');
  const configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `token: {issuer: t, services: [registry.test], refresh: {}}\nusers:\n  alice: {password: "${hash('alice-pw-1')}"}\nacl: [{match: {account: alice}, actions: [pull]}]\n`,
  );
  process.umask(0o000);
  try {
    const loader = serviceLoader(configFile, data, new HeldNotices());
    await loader.load();
    expect(loader.createdDevKey).toBe(true);
  } finally {
    process.umask(0o022);
  }
  expect(statSync(join(data, 'token.key')).mode & 0o777).toBe(0o600);
  expect(statSync(join(data, 'refresh.key')).mode & 0o777).toBe(0o600);
  const mode = statSync(data).mode & 0o777;
  expect(mode.toString(8), 'group/other may replace token.key and refresh.key').toMatch(/^7[0145][0145]$/);
});
