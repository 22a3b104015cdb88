import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';

/**
 * Found by a review of the docs as a new operator reads them. docs/cli.md: `regauth help [verb …]` is "the same as --help", and "bad usage caught by the
 * option parser (an unknown option or command, a required option missing) prints
 * `error: <message>`" (exit 2). `regauth nosuch` does; `regauth help nosuch` exits 2 with the
 * whole top-level usage on stderr and no line saying what was wrong (a typo such as
 * `regauth help valdiate` reads as a failure with no reason).
 */
const MAIN = join(resolve(import.meta.dirname, '../..'), 'dist/cli/main.js');

function run(args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

describe('regauth help with an unknown verb', () => {
  test('regauth nosuch: exit 2, error: unknown command (as documented)', () => {
    ensureBuilt();
    const r = run(['nosuch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown command 'nosuch'/m);
  });

  test('regauth help nosuch: exit 2 and an error: line naming the unknown verb', () => {
    ensureBuilt();
    const r = run(['help', 'nosuch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*nosuch/m);
  });
});

test('regauth help keys nosuch: an unknown subcommand is an error too; help keys init is its help', () => {
  ensureBuilt();
  const unknown = run(['help', 'keys', 'nosuch']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/^error: .*nosuch/m);
  const known = spawnSync(process.execPath, [MAIN, 'help', 'keys', 'init'], { encoding: 'utf8' });
  expect(known.status).toBe(0);
  expect(known.stdout).toMatch(/Usage: regauth keys init/);
});
