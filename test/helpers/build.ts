import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/** Newest (or oldest) modification time of the files below `dir` whose names end in `suffix`. */
function mtimes(dir: string, suffix: string): number[] {
  const times: number[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(suffix))
      times.push(statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return times;
}

/** True when every compiled file is newer than every source file (what `npm test` leaves behind). */
function isFresh(): boolean {
  let built: number[];
  try {
    built = mtimes(join(ROOT, 'dist'), '.js');
  } catch {
    return false;
  }
  if (built.length === 0) return false;
  const sources = [...mtimes(join(ROOT, 'src'), '.ts'), statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs];
  return Math.min(...built) >= Math.max(...sources);
}

/**
 * Makes sure dist/ is built from the current src/ for tests that run the built CLI. Builds only
 * when it is stale (under `npm test` it never is: the script builds first), and one test file at
 * a time: tsc rewriting dist/ while another file starts `node dist/cli/main.js` made that start
 * fail now and then. Freshness is judged under the lock too: while another file's build is
 * writing dist/, the files written so far look fresh, and a file reading dist/index.js before
 * tsc wrote it failed with ENOENT (a copy of the repository with no dist/, running test/unit).
 */
export function ensureBuilt(): void {
  const lock = join(
    tmpdir(),
    `regauth-build-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}.lock`,
  );
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a test run that was killed mid-build (a build takes under a minute).
      if (Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 300_000) {
        rmdirSync(lock);
        continue;
      }
      // Another test file is building: wait for it, then see whether that build is enough.
      if (Date.now() > deadline)
        throw new Error(`a build lock ${lock} has been held for 3 minutes; remove it`);
      execFileSync('sleep', ['0.2']);
    }
  }
  try {
    if (!isFresh()) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  } finally {
    rmdirSync(lock);
  }
}
