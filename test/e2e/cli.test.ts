import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { randomPassword, tempDir } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = resolve(ROOT, 'dist/cli/main.js');

/** The built `regauth` binary as operators run it: exit codes come from the real process. */
function regauth(args: string[], input: string | Buffer = '', env: NodeJS.ProcessEnv = {}) {
  const run = spawnSync(process.execPath, [CLI, ...args], {
    input,
    encoding: 'utf8',
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(() => ensureBuilt());

describe('the built regauth CLI', () => {
  test('--help lists every verb', () => {
    const run = regauth(['--help']);
    expect(run.code).toBe(0);
    for (const verb of [
      'serve',
      'validate',
      'check',
      'test',
      'who-can',
      'replay',
      'hash',
      'keys',
      'doctor',
    ]) {
      expect(run.stdout).toMatch(new RegExp(`^  ${verb} `, 'm'));
    }
  });

  test('a reader that closes early (`regauth --help | head -1`) is not an error: exit 0, no stack trace', async () => {
    const child = spawn(process.execPath, [CLI, '--help'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    // The read end is gone before node has even started: the help's write meets EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  test('with the reader gone, a verb still exits with its own code (a lint warning: 1)', async () => {
    const tmp = tempDir('regauth-cli-epipe-');
    try {
      const config = join(tmp.dir, 'config.yml');
      writeFileSync(
        config,
        'token: {issuer: t}\nacl:\n  - match: {}\n    actions: [pull]\n  - match: {account: alice}\n    actions: [push]\n',
      );
      expect(regauth(['validate', '-c', config]).code).toBe(1);
      const child = spawn(process.execPath, [CLI, 'validate', '-c', config], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      // The verb's own 1, not node's exit on an unhandled EPIPE (also 1, with a stack trace).
      expect(stderr).not.toMatch(/EPIPE|\n\s+at /);
      expect(code).toBe(1);
    } finally {
      tmp.cleanup();
    }
  });

  test.each([['--version'], ['-V']])('%s prints the version of package.json', (flag) => {
    const { version } = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const run = regauth([flag]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  });

  test.each([
    [
      ['check', '--help'],
      'regauth check -c config.yml --account alice --scope repository:team/app:push,pull',
    ],
    [['test', '--help'], 'regauth test -c config.yml policy-tests.yml'],
    [['hash', '--help'], `printf '%s' "$PASSWORD" | regauth hash --cost 12`],
    [['keys', 'init', '--help'], 'regauth keys init --dir /etc/regauth/keys --alg ES256'],
    [['keys', 'rotate', '--help'], 'regauth keys rotate --dir /etc/regauth/keys'],
    [['keys', 'activate', '--help'], 'regauth keys activate --dir /etc/regauth/keys'],
    [['doctor', '--help'], 'regauth doctor -c config.yml --registry-config'],
    [['validate', '--help'], 'regauth validate -c config.yml'],
  ])('%j shows an example', (args, example) => {
    const run = regauth(args);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(example);
  });

  test.each([
    [['nonsense'], "unknown command 'nonsense'"],
    [['check', '-c', 'config.example.yml'], "required option '--account <name>' not specified"],
    [
      ['check', '-c', 'config.example.yml', '--account', 'alice'],
      "required option '--scope <scope>' not specified",
    ],
    [['hash', '--cost'], "option '--cost <n>' argument missing"],
    [['keys', 'init'], "required option '--dir <dir>' not specified"],
    [['validate', '-c', 'no-such-file.yml'], 'cannot read config file'],
  ])('%j is exit 2', (args, message) => {
    const run = regauth(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  test('without -c, validate reads config.yml in the working directory', () => {
    const tmp = tempDir('regauth-cli-default-');
    try {
      writeFileSync(
        join(tmp.dir, 'config.yml'),
        'token: {issuer: t}\nusers: {}\nacl: [{match: {}, actions: []}]\n',
      );
      const run = spawnSync(process.execPath, [CLI, 'validate'], {
        cwd: tmp.dir,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect({ code: run.status, stdout: run.stdout }).toEqual({ code: 0, stdout: 'config.yml: ok\n' });
    } finally {
      tmp.cleanup();
    }
  });

  test('replay reads a gzipped audit log on stdin; who-can answers for the same config', () => {
    const tmp = tempDir('regauth-cli-replay-');
    try {
      const config = join(tmp.dir, 'config.yml');
      writeFileSync(
        config,
        `token: {issuer: acme}\nusers:\n  alice: {labels: {group: [devs]}}\nacl:\n  - {match: {labels: {group: devs}, name: "team/**"}, actions: [pull]}\n`,
      );
      const line = JSON.stringify({
        time: '2026-12-03T10:00:00.000Z',
        requestId: 'r1',
        client: { ip: '10.0.0.1', via: null },
        outcome: 'granted',
        service: 'registry',
        account: 'alice',
        authenticator: 'users',
        decisions: [{ scope: 'repository:team/app:pull,push', granted: ['pull', 'push'], rule: 0 }],
      });
      const run = spawnSync(process.execPath, [CLI, 'replay', '--audit', '-', '-c', config], {
        input: gzipSync(`${line}\n`),
        encoding: 'utf8',
        cwd: ROOT,
        timeout: 30_000,
      });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(1);
      expect(run.stdout).toContain('1 decision change (1 request): 1 lose access, 0 gain access');
      expect(run.stdout).toContain(
        'alice repository:team/app:pull,push (service registry, from 10.0.0.1): pull,push -> pull',
      );
      const who = regauth(['who-can', 'repository:team/app:pull', '-c', config]);
      expect(who.code).toBe(0);
      expect(who.stdout).toContain('static accounts: alice');
    } finally {
      tmp.cleanup();
    }
  });

  test('regauth help keys init prints the help of keys init', () => {
    const run = regauth(['help', 'keys', 'init']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: regauth keys init [options]');
  });

  test('hash reads the password from stdin; it never appears in the output', () => {
    const password = randomPassword();
    const run = regauth(['hash', '--cost', '4'], `${password}\n`);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\$2b\$04\$[./A-Za-z0-9]{53}\n$/);
    expect(run.stdout + run.stderr).not.toContain(password);
  });

  test('hash refuses a password on stdin that is not UTF-8 (each bad byte would hash as U+FFFD)', () => {
    // Latin-1 "né" and "nè": as UTF-8 both would be "n\uFFFD", one hash for two passwords, and
    // neither could log in (Basic credentials that are not UTF-8 get 400).
    for (const bytes of [Buffer.from([0x6e, 0xe9]), Buffer.from([0x6e, 0xe8, 0x0a])]) {
      const run = regauth(['hash', '--cost', '4'], bytes);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        'regauth: the password on stdin is not UTF-8; regauth reads passwords as UTF-8\n',
      );
    }
  });

  test('serve with an invalid REGAUTH_LOG_LEVEL: exit 2 naming the variable and the levels, nothing created', () => {
    const tmp = tempDir('regauth-cli-');
    try {
      const dataDir = join(tmp.dir, 'data');
      const run = regauth(['serve', '-c', 'config.example.yml', '--data-dir', dataDir], '', {
        REGAUTH_LOG_LEVEL: 'verbose',
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(
        'regauth: REGAUTH_LOG_LEVEL="verbose" is not a log level; use one of trace, debug, info, warn, error, fatal, silent (or unset it to use log.level)\n',
      );
      expect(run.stdout).toBe('');
      // It fails before loading the config: no development key was made.
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      tmp.cleanup();
    }
  });

  test('serve --help names REGAUTH_LOG_LEVEL and its values', () => {
    const run = regauth(['serve', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'REGAUTH_LOG_LEVEL  overrides log.level: trace, debug, info, warn, error, fatal, silent',
    );
  });

  test('validate on the example config: exit 0', () => {
    const run = regauth(['validate', '-c', 'config.example.yml']);
    expect(run.code).toBe(0);
    // stdout holds the answer alone; the notes about the development key and secret go to stderr.
    expect(run.stdout).toBe('config.example.yml: ok\n');
    expect(run.stderr.trim().split('\n')).toEqual([
      expect.stringContaining('config.example.yml: no token.key; checked with a stand-in key'),
      expect.stringContaining('config.example.yml: no token.refresh.secret_file;'),
    ]);
  });
});
