/**
 * Found by a review of b4b8a8f (serve: make the data directory 0700 whatever the umask). The start-up line
 * and README tell the registry `auth.token.rootcertbundle: <data-dir>/token.pem`; README's
 * quickstart runs Debian's docker-registry with it. A data directory serve creates is now 0700,
 * so a registry running as another user (Debian's docker-registry service user, a registry
 * container with another uid given the directory) can no longer read token.pem and does not start
 * ("unable to open token auth root certificate bundle file ... permission denied"); under the
 * usual umask 022 it was 0755 before, and worked. What the review that asked for the change
 * wanted (its test: group and others must not write, /^7[0145][0145]$/) holds with 0755 too.
 * Suggested fix: make the data directory 0755 (or 0711) whatever the umask; token.key and
 * refresh.key stay 0600.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { HeldNotices, serviceLoader } from '../../src/service/load.js';
import { signingKeyTrustFiles } from '../../src/token/registry-block.js';
import { hash, tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-data-dir-bundle-');
const original = process.umask(0o022);
afterAll(() => {
  process.umask(original);
  tmp.cleanup();
});

test('the rootcertbundle serve names in a data directory it created can be read by the registry run as another user', async () => {
  expect(process.geteuid?.(), 'the test runs as root, to read as another user').toBe(0);
  chmodSync(tmp.dir, 0o755);
  const data = join(tmp.dir, 'state', 'data');
  const configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `token: {issuer: t, services: [registry.test]}\nusers:\n  alice: {password: "${hash('alice-pw-1')}"}\nacl: [{match: {account: alice}, actions: [pull]}]\n`,
  );
  const loader = serviceLoader(configFile, data, new HeldNotices());
  const config = await loader.load();
  expect(loader.createdDevKey).toBe(true);
  const bundle = signingKeyTrustFiles(config.token).bundle;
  expect(bundle).toBe(join(data, 'token.pem'));
  expect(statSync(join(data, 'token.key')).mode & 0o777).toBe(0o600);
  // The registry, as another uid, reads the bundle it was told to use.
  let read: string | undefined;
  try {
    read = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', bundle], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
  } catch (err) {
    read = undefined;
    expect.fail(
      `another user cannot read ${bundle} (data directory mode ${(statSync(data).mode & 0o777).toString(8)}): ${String((err as { stderr?: Buffer }).stderr)}`,
    );
  }
  expect(read).toContain('BEGIN CERTIFICATE');
});
