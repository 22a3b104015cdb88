/**
 * Found by a review of the operator's CLI: commands regauth prints for the operator to run (in
 * backquotes) put paths in unquoted. With a space in a path (`/srv/my keys`, `my config.yml`) the
 * printed command, pasted as it is, ran with other arguments: `regauth keys init --dir /srv/my
 * keys` is `--dir /srv/my` plus a stray `keys`, and doctor's `regauth serve -c my config.yml
 * --data-dir data dir` read `my`. `keys rotate` quoted its next step (shellQuote); now validate's
 * stand-in note, serve's "create it with" and doctor's "no development key" fix do too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const tmp = tempDir('regauth-cli-quoting-');
afterAll(() => tmp.cleanup());

const regauth = (...args: string[]) =>
  spawnSync(process.execPath, [MAIN, ...args], { cwd: tmp.dir, encoding: 'utf8' });

/** The arguments a POSIX shell makes of the first backquoted `regauth …` command in `text`. */
function pastedArgs(text: string): string[] {
  const command = /`(regauth [^`]+)`/.exec(text)?.[1];
  expect(command, `no command in: ${text}`).toBeDefined();
  const out = execFileSync(
    '/bin/sh',
    ['-c', `set -- ${command!.replace(/^regauth /, '')}; printf '%s\\n' "$@"`],
    {
      encoding: 'utf8',
    },
  );
  return out.split('\n').slice(0, -1);
}

/** The value that follows `flag` in `args`. */
const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

const keysDir = () => join(tmp.dir, 'my keys');
const acl = 'users: {alice: {}}\nacl:\n  - {match: {account: alice}, actions: [pull]}\n';

test('validate: the stand-in note names `keys init --dir` so that it runs as printed', () => {
  writeFileSync(
    join(tmp.dir, 'named.yml'),
    `token: {issuer: regauth, key: "my keys/token.key", certificate: "my keys/token.pem"}\n${acl}`,
  );
  const run = regauth('validate', '-c', 'named.yml');
  expect(run.status).toBe(0);
  const args = pastedArgs(run.stderr);
  expect(after(args, '--dir')).toBe(keysDir());
  expect(args).toHaveLength(4); // keys init --dir DIR, nothing stray
});

test('serve: "create it with `regauth keys init --dir …`" runs as printed', () => {
  mkdirSync(keysDir(), { recursive: true });
  writeFileSync(join(keysDir(), 'token.pem'), 'x'); // only the key is missing
  writeFileSync(
    join(tmp.dir, 'serve.yml'),
    `token: {issuer: regauth, key: "my keys/token.key", certificate: "my keys/token.pem"}\n${acl}`,
  );
  const run = regauth('serve', '-c', 'serve.yml', '--data-dir', 'data');
  expect(run.status).toBe(2);
  const args = pastedArgs(run.stderr);
  expect(after(args, '--dir')).toBe(keysDir());
  expect(args).toHaveLength(4);
});

test('doctor without a development key: its `regauth serve` fix runs as printed', () => {
  writeFileSync(join(tmp.dir, 'my config.yml'), `token: {issuer: regauth}\n${acl}`);
  writeFileSync(
    join(tmp.dir, 'registry.yml'),
    'auth:\n  token:\n    realm: http://localhost:5001/auth\n    service: s\n    issuer: regauth\n    rootcertbundle: b.pem\n',
  );
  const run = regauth(
    'doctor',
    '-c',
    'my config.yml',
    '--registry-config',
    'registry.yml',
    '--data-dir',
    'data dir',
  );
  expect(run.status).toBe(1);
  const args = pastedArgs(run.stdout);
  expect(after(args, '-c')).toBe('my config.yml');
  expect(after(args, '--data-dir')).toBe('data dir');
  expect(args).toHaveLength(5); // serve -c FILE --data-dir DIR
});
