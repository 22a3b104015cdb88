import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import yaml from 'js-yaml';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = resolve(ROOT, 'dist/cli/main.js');

/** Every regauth config the repository ships: what a new operator runs `validate` on first. */
const shipped = [
  'config.example.yml',
  ...['examples', 'compose/regauth'].flatMap((dir) =>
    readdirSync(join(ROOT, dir))
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => `${dir}/${f}`),
  ),
].sort();

beforeAll(() => ensureBuilt());

describe('every shipped config validates from a checkout', () => {
  test('the list holds the examples and the compose configs', () => {
    expect(shipped).toEqual(
      expect.arrayContaining([
        'config.example.yml',
        'examples/static-users.yml',
        'examples/docker-auth-migration.yml',
        'compose/regauth/config.yml',
        'compose/regauth/ldap.yml',
      ]),
    );
  });

  test.each(shipped)('regauth validate -c %s: exit 0', (file) => {
    const run = spawnSync(process.execPath, [CLI, 'validate', '-c', file], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect({ code: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({
      code: 0,
      stdout: `${file}: ok\n`,
      stderr: expect.any(String),
    });
  });

  test('a key the config names that does not exist yet: validate says how to create it', () => {
    const run = spawnSync(process.execPath, [CLI, 'validate', '-c', 'examples/static-users.yml'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.stderr).toContain(
      'examples/static-users.yml: token.key /keys/token.key does not exist here; checked with a stand-in key (create it with `regauth keys init --dir /keys`)',
    );
  });

  test('config.example.yml (the quick start) listens on 127.0.0.1 only; the compose configs set their own address', () => {
    const addr = (file: string) =>
      (yaml.load(readFileSync(join(ROOT, file), 'utf8')) as { server?: { addr?: string } }).server?.addr;
    expect(addr('config.example.yml')).toBe('127.0.0.1:5001');
    for (const file of shipped.filter((f) => f.startsWith('compose/')))
      expect([file, addr(file)]).toEqual([file, ':5001']);
  });

  // Found by a review: compose/regauth/ldap.yml named no store, so `--scale regauth=3` with the
  // ldap profile kept lockout counts, sign-outs and spent login cookies per replica (each replica
  // gave a guesser max_failures of its own) while the stack's Redis sat unused.
  test("every compose config shares its lockout through the stack's Redis", () => {
    const store = (file: string) =>
      (yaml.load(readFileSync(join(ROOT, file), 'utf8')) as { store?: unknown }).store;
    for (const file of shipped.filter((f) => f.startsWith('compose/')))
      expect([file, store(file)]).toEqual([file, { type: 'redis', url: 'redis://redis:6379/0' }]);
  });
});
