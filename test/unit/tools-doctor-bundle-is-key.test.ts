/**
 * Found by a review of the operator's CLI: `auth.token.rootcertbundle` pointed at the signing key
 * file itself (token.key instead of bundle.pem, an easy slip). doctor rightly said the bundle
 * holds a private key, but its fix told the operator to keep that file's certificates alone and
 * move the result over it: the file is regauth's token.key, it holds no certificate, and the
 * advised commands left it empty (regauth could not restart, nor the key be rotated). The fix now
 * points rootcertbundle at the bundle and leaves the key file alone; a bundle that holds
 * certificates and some other key still gets the advice to keep its certificates alone.
 */
import { execSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const tmp = tempDir('regauth-doctor-bundle-is-key-');
afterAll(() => tmp.cleanup());

const regauth = (...args: string[]) =>
  spawnSync(process.execPath, [MAIN, ...args], { cwd: tmp.dir, encoding: 'utf8' });

beforeAll(() => {
  expect(regauth('keys', 'init', '--dir', 'keys').status).toBe(0);
  writeFileSync(
    join(tmp.dir, 'config.yml'),
    'token: {issuer: regauth, key: keys/token.key, certificate: keys/token.pem}\nusers: {alice: {}}\nacl:\n  - {match: {account: alice}, actions: [pull]}\n',
  );
});

/** doctor's rootcertbundle finding and its fix, with the registry's bundle at `bundle`. */
function finding(bundle: string): { message: string; fix: string } {
  writeFileSync(
    join(tmp.dir, 'registry.yml'),
    `auth:\n  token:\n    realm: http://localhost:5001/auth\n    service: registry.example.com\n    issuer: regauth\n    rootcertbundle: ${bundle}\n`,
  );
  const run = regauth('doctor', '-c', 'config.yml', '--registry-config', 'registry.yml');
  expect(run.status).toBe(1);
  const lines = run.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('FAIL rootcertbundle'));
  expect(at).toBeGreaterThanOrEqual(0);
  return { message: lines[at]!, fix: lines[at + 1] ?? '' };
}

test('rootcertbundle = the signing key: the fix points the registry at the bundle and keeps the key', () => {
  const keyPath = join(tmp.dir, 'keys/token.key');
  const keyBefore = readFileSync(keyPath, 'utf8');
  const { message, fix } = finding(keyPath);
  expect(message).toContain("it is regauth's signing key (token.key)");
  expect(fix).toContain(`point auth.token.rootcertbundle at ${join(tmp.dir, 'keys/bundle.pem')}`);
  expect(fix).toContain(`leave ${keyPath} as it is`);
  expect(fix).not.toContain('keep the certificates alone');
  expect(readFileSync(keyPath, 'utf8')).toBe(keyBefore);
});

test('a bundle holding certificates and another key: following the fix keeps its certificates', () => {
  const other = join(tmp.dir, 'combined.pem');
  const certificate = readFileSync(join(tmp.dir, 'keys/token.pem'), 'utf8');
  expect(regauth('keys', 'init', '--dir', 'other').status).toBe(0);
  writeFileSync(other, certificate + readFileSync(join(tmp.dir, 'other/token.key'), 'utf8'));
  const { fix } = finding(other);
  const command = /`([^`]+)`/.exec(fix)?.[1];
  const moved = /then move (\S+) over it/.exec(fix)?.[1];
  expect(command).toBeDefined();
  expect(moved).toBe(`${other}.new`);
  execSync(command!, { cwd: tmp.dir, shell: '/bin/sh' });
  execSync(`mv ${moved} ${other}`, { cwd: tmp.dir, shell: '/bin/sh' });
  expect(readFileSync(other, 'utf8')).toBe(certificate);
});
