import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

/**
 * A fresh clone stands alone: the repository's files (tracked and new, as `git ls-files` lists
 * them) are copied into an empty folder with nothing beside it, and the whole unit suite runs
 * there. A test that reads a file outside the repository (a sibling folder of the checkout, say)
 * fails in the copy even when the checkout happens to have that sibling.
 */
const ROOT = resolve(import.meta.dirname, '../..');

interface VitestJson {
  numTotalTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults?: { fullName: string; status: string; failureMessages?: string[] }[];
  }[];
}

/** What went wrong in the copy, by test, so that a failure here says which assertion failed. */
function failures(result: VitestJson): string {
  const lines: string[] = [];
  for (const file of result.testResults.filter((r) => r.status !== 'passed')) {
    if (file.message) lines.push(`${file.name}: ${file.message}`);
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'failed')
        lines.push(`${t.fullName}: ${(t.failureMessages ?? []).join('\n').slice(0, 2000)}`);
    }
  }
  return lines.join('\n');
}

let tmp: string;
let repo: string;

function projectFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return out.split('\0').filter((f) => f !== '' && statSync(join(ROOT, f)).isFile());
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: 'true' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'regauth-clone-'));
  repo = join(tmp, 'regauth');
  for (const file of projectFiles()) {
    mkdirSync(dirname(join(repo, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(repo, file));
  }
  // The dependencies `npm ci` would install: the same packages, linked rather than copied.
  symlinkSync(join(ROOT, 'node_modules'), join(repo, 'node_modules'), 'dir');
  // A clone is a git repository (the static guard lists files with git).
  execFileSync('git', ['init', '-q'], { cwd: repo });
  execFileSync('git', ['add', '-A'], { cwd: repo });
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('a copy of the repository with nothing beside it', () => {
  test('has no sibling folders to lean on', () => {
    expect(readdirSync(tmp)).toEqual(['regauth']);
    expect(existsSync(join(repo, 'package.json'))).toBe(true);
  });

  test('passes the whole unit suite, every test file of the checkout counted', async () => {
    const report = join(tmp, 'unit.json');
    const vitest = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
    const { code, output } = await run(
      process.execPath,
      [vitest, 'run', 'test/unit', '--reporter=json', `--outputFile=${report}`],
      repo,
    );
    expect(existsSync(report), output.slice(-4000)).toBe(true);
    const result = JSON.parse(readFileSync(report, 'utf8')) as VitestJson;
    const failed = result.testResults.filter((r) => r.status !== 'passed').map((r) => r.name);
    // An exit 1 with no failed test is an unhandled error: show it, not the output's tail.
    const unhandled = output.indexOf('Unhandled');
    const shown = unhandled >= 0 ? output.slice(unhandled, unhandled + 4000) : output.slice(-4000);
    expect({ code, failed, failedTests: result.numFailedTests }, failures(result) || shown).toEqual({
      code: 0,
      failed: [],
      failedTests: 0,
    });
    expect(result.numPendingTests + result.numTodoTests).toBe(0);
    const expected = readdirSync(join(ROOT, 'test', 'unit')).filter((f) => f.endsWith('.test.ts'));
    const ran = result.testResults.map((r) => r.name.slice(join(repo, 'test', 'unit').length + 1));
    expect(ran.sort()).toEqual(expected.sort());
    expect(result.numTotalTests).toBeGreaterThan(500);
    // The whole unit suite, beside the other e2e files on two cores: about 250 s on a quiet Intel
    // machine; on the slower AMD one the unit suite alone took 13 minutes, and beside the other
    // e2e files more than 15 (this test's bound was 900 s then, and it timed out). A bound with
    // room for that, the suite to grow and the machine to be busy; `npm test` as a whole stays
    // well inside an hour there (31 minutes in that run).
  }, 2_400_000);
});
