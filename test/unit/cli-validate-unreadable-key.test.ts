/**
 * Found by a review of the operator's CLI: validate (and check, test) stood in for a signing key
 * or refresh secret "that does not exist here", tested with existsSync, which is also false for a
 * file that exists but that this user may not reach (EACCES: a key directory 0700 of another
 * user). So `regauth validate` run as the service's user, as a gate before a restart, said "does
 * not exist here; checked with a stand-in key" and `ok`, exit 0, while `regauth serve` as that
 * user refused the config (EACCES, exit 2); doctor said there was no development key in a data
 * directory it could not read, and `--audit` called such a file "no such file".
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const tmp = tempDir('regauth-cli-unreadable-');
afterAll(() => {
  chmodSync(join(tmp.dir, 'keys'), 0o700);
  chmodSync(join(tmp.dir, 'secret'), 0o700);
  tmp.cleanup();
});

// Root reads through any mode: as root, the CLI runs without the capabilities that let it
// (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a mode-0 directory keeps it out as it keeps out
// any other user. (Run as another uid instead, it could not read a checkout under a 0700
// directory, as a clean clone in `mktemp -d` is.)
const asRoot = process.getuid?.() === 0;
const command = asRoot
  ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--', process.execPath]
  : [process.execPath];
const regauth = (...args: string[]) =>
  spawnSync(command[0]!, [...command.slice(1), MAIN, ...args], { cwd: tmp.dir, encoding: 'utf8' });

const acl = 'users: {alice: {}}\nacl:\n  - {match: {account: alice}, actions: [pull]}\n';

beforeAll(() => {
  expect(spawnSync(process.execPath, [MAIN, 'keys', 'init', '--dir', 'keys'], { cwd: tmp.dir }).status).toBe(
    0,
  );
  mkdirSync(join(tmp.dir, 'secret'));
  writeFileSync(
    join(tmp.dir, 'secret/refresh.key'),
    'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC1zZWNyZXQ=\n',
    {
      mode: 0o600,
    },
  );
  chmodSync(join(tmp.dir, 'keys'), 0o000);
  chmodSync(join(tmp.dir, 'secret'), 0o000);
  writeFileSync(
    join(tmp.dir, 'key.yml'),
    `token: {issuer: regauth, key: keys/token.key, certificate: keys/token.pem}\n${acl}`,
    { mode: 0o644 },
  );
  writeFileSync(
    join(tmp.dir, 'secret.yml'),
    `token: {issuer: regauth, refresh: {secret_file: secret/refresh.key}}\n${acl}`,
    { mode: 0o644 },
  );
});

test('serve refuses the config whose key it cannot read (the reference: EACCES, exit 2)', () => {
  const run = regauth('serve', '-c', 'key.yml', '--data-dir', join(tmp.dir, 'data'));
  expect(run.status).toBe(2);
  expect(run.stderr).toContain('EACCES');
});

test('validate: a token.key that exists but cannot be read is an error (exit 2), not "does not exist here"', () => {
  const run = regauth('validate', '-c', 'key.yml');
  expect(run.stderr).not.toContain('does not exist here');
  expect(run.stdout).not.toContain('key.yml: ok');
  expect(run.status).toBe(2);
  expect(run.stderr).toContain('EACCES');
});

test('validate: a token.refresh.secret_file that exists but cannot be read is an error too', () => {
  const run = regauth('validate', '-c', 'secret.yml');
  expect(run.stderr).not.toContain('does not exist here');
  expect(run.status).toBe(2);
  expect(run.stderr).toContain('EACCES');
});

test('doctor: a development key it cannot read is not "no development key"', () => {
  mkdirSync(join(tmp.dir, 'data'), { recursive: true });
  expect(
    spawnSync(process.execPath, [MAIN, 'keys', 'init', '--dir', join(tmp.dir, 'data')], { cwd: tmp.dir })
      .status,
  ).toBe(0);
  writeFileSync(join(tmp.dir, 'dev.yml'), `token: {issuer: regauth}\n${acl}`, { mode: 0o644 });
  writeFileSync(
    join(tmp.dir, 'registry.yml'),
    'auth:\n  token:\n    realm: http://localhost:5001/auth\n    service: r\n    issuer: regauth\n    rootcertbundle: /nowhere.pem\n',
    { mode: 0o644 },
  );
  chmodSync(join(tmp.dir, 'data'), 0o000);
  try {
    const run = regauth('doctor', '-c', 'dev.yml', '--registry-config', 'registry.yml', '--data-dir', 'data');
    expect(run.stdout).not.toContain('no development key');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('EACCES');
  } finally {
    chmodSync(join(tmp.dir, 'data'), 0o700);
  }
});

test('--audit: a log it cannot read is not "no such file"', () => {
  writeFileSync(join(tmp.dir, 'secret/audit.log'), '', { mode: 0o600 });
  const run = regauth('replay', '--audit', 'secret/audit.log', '-c', 'key.yml');
  expect(run.stderr).not.toContain('no such file');
  expect(run.stderr).toContain('secret/audit.log: cannot be read (EACCES)');
  expect(run.status).toBe(2);
});
