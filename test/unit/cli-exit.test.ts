import { Command } from 'commander';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runProgram } from '../../src/cli/exit.js';
import { addToolCommands, type ToolIO } from '../../src/cli/tools.js';
import { BackendUnavailableError, ConfigError, UsageError } from '../../src/core/errors.js';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir } from '../helpers/fixtures.js';

interface Run {
  readonly code: number;
  readonly stderr: string;
}

/** A program with one verb, `go`, that throws `thrown`; plus the tools, reading stdin from `stdin`. */
async function run(
  args: string[],
  thrown?: unknown,
  stdin: () => Promise<string> = async () => '',
): Promise<Run> {
  let stderr = '';
  let code = 0;
  const io: ToolIO = {
    stdout: () => undefined,
    stderr: (t) => void (stderr += t),
    readStdin: stdin,
    setExitCode: (c) => void (code = c),
  };
  const program = new Command()
    .name('regauth')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: (t) => void (stderr += t) });
  program.command('go').action(() => {
    throw thrown;
  });
  addToolCommands(program, io);
  const failed = await runProgram(program, ['node', 'regauth', ...args], (t) => void (stderr += t));
  return { code: failed === 0 ? code : failed, stderr };
}

describe('a crash (a bug in regauth) exits 70, never 2 (bad usage)', () => {
  test('a TypeError from a verb: exit 70; stderr says it is a bug, asks for a report, gives the message and stack', async () => {
    const r = await run(['go'], new TypeError('cannot read properties of undefined'));
    expect(r.code).toBe(70);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toMatch(/^regauth: .*bug.*report/i);
    expect(lines[1]).toBe('TypeError: cannot read properties of undefined');
    expect(lines[2]).toMatch(/^\s+at /);
  });

  test('a real verb whose input throws unexpectedly (hash, stdin failing): exit 70', async () => {
    const r = await run(['hash'], undefined, () => Promise.reject(new RangeError('broken stdin')));
    expect(r.code).toBe(70);
    expect(r.stderr).toContain('RangeError: broken stdin');
  });

  test('something thrown that is not an Error: exit 70, with what was thrown', async () => {
    const r = await run(['go'], 'a string');
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/bug/i);
    expect(r.stderr).toContain('a string');
  });
});

describe('expected errors keep their documented exit codes', () => {
  test('an invalid config: 2, one line per problem, no stack', async () => {
    const r = await run(['go'], new ConfigError('acl[0].match', 'unknown key "team"'));
    expect(r).toEqual({ code: 2, stderr: 'regauth: acl[0].match: unknown key "team"\n' });
  });

  test('a verb called wrongly (UsageError): 2, its message alone', async () => {
    expect(await run(['go'], new UsageError('give one scope'))).toEqual({
      code: 2,
      stderr: 'regauth: give one scope\n',
    });
    const r = await run(['hash'], undefined, async () => '');
    expect(r).toEqual({ code: 2, stderr: 'regauth: refusing to hash an empty password\n' });
  });

  test('a backend that cannot answer: 3', async () => {
    const r = await run(['go'], new BackendUnavailableError('ldap_auth', 'connect ECONNREFUSED 127.0.0.1:1'));
    expect(r).toEqual({ code: 3, stderr: 'regauth: ldap_auth: connect ECONNREFUSED 127.0.0.1:1\n' });
  });

  test('a file the operator named that cannot be read or written: 2, the system error, no stack', async () => {
    const tmp = tempDir('regauth-exit-');
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, 'not a directory');
    try {
      const r = await run(['keys', 'init', '--dir', join(file, 'keys')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`regauth: cannot create directory ${join(file, 'keys')}: ENOTDIR\n`);
    } finally {
      tmp.cleanup();
    }
  });

  test("commander's own errors: 2 for an unknown option, 0 for --help", async () => {
    expect((await run(['hash', '--nope'])).code).toBe(2);
    expect((await run(['--help'])).code).toBe(0);
  });
});

describe('a reader of stderr that stops early (`2>&1 | head -1`) does not change the exit code', () => {
  const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

  /** The exit code of the built CLI whose stdout and stderr pipes are closed before it writes. */
  function exitWithClosedPipes(args: string[]): Promise<number | null> {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    child.stderr.destroy();
    return new Promise((done, fail) => {
      child.on('error', fail);
      child.on('exit', (code) => done(code));
    });
  }

  test.each([
    ['validate with an invalid config', (dir: string) => ['validate', '-c', join(dir, 'invalid.yml')]],
    ['keys without a subcommand (its help, on stderr)', () => ['keys']],
  ])('%s: still 2', async (_, args) => {
    ensureBuilt();
    const tmp = tempDir('regauth-epipe-');
    try {
      writeFileSync(join(tmp.dir, 'invalid.yml'), 'nope: [\n');
      expect(await exitWithClosedPipes(args(tmp.dir))).toBe(2);
    } finally {
      tmp.cleanup();
    }
  });
});
