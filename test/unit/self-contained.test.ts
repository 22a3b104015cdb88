import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

/**
 * The repository stands on its own: no file of the project reads, imports, links to or cites a
 * path outside the repository root (a fresh clone has nothing beside it). The end-to-end twin,
 * test/e2e/self-contained.test.ts, copies the repository into an empty folder and runs the unit
 * suite there; this file finds the references themselves, fast, with the file and line.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Tracked and new (not ignored) files: what a commit of this tree holds. */
function projectFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: root,
    encoding: 'utf8',
  });
  return out
    .split('\0')
    .filter((f) => f !== '' && f !== 'package-lock.json' && statSync(resolve(root, f)).isFile());
}

const TEXT = new Set([
  '.ts',
  '.js',
  '.mjs',
  '.cjs',
  '.json',
  '.md',
  '.yml',
  '.yaml',
  '.sh',
  '.cfg',
  '.ldif',
  '',
]);

/** Names of files that exist only outside the repository (built so this file does not name them). */
const OUTSIDE_NAMES = [
  ['design', 'md'].join('.'),
  ['protocol', 'md'].join('.'),
  ['shared', 'spec'].join('/'),
];

/**
 * Relative paths that climb out of the folder they are written in: `../x`, `../../x`, in imports,
 * `new URL()`, markdown links, shell scripts. Each is resolved against the file's own folder.
 */
const RELATIVE_PATH = /(?<![\w.])((?:\.\.\/)+)([\w.@-][\w./@-]*)?/g;

interface Finding {
  readonly where: string;
  readonly text: string;
}

function findOutsideReferences(file: string, text: string): Finding[] {
  const findings: Finding[] = [];
  const dir = dirname(resolve(root, file));
  text.split('\n').forEach((line, i) => {
    const outside = (path: string) => {
      const rel = relative(root, path);
      return rel === '..' || rel.startsWith(`..${sep}`);
    };
    const names = OUTSIDE_NAMES.some((name) => line.includes(name));
    const paths = [...line.matchAll(RELATIVE_PATH)].some((m) =>
      outside(resolve(dir, m[1] ?? '', m[2] ?? '')),
    );
    if (names || paths) findings.push({ where: `${file}:${i + 1}`, text: line.trim() });
  });
  return findings;
}

describe('the repository is self-contained', () => {
  test('finds a reference that climbs out of the repository', () => {
    expect(
      findOutsideReferences('test/unit/x.test.ts', "new URL('../../../elsewhere/v.json', import.meta.url)"),
    ).toHaveLength(1);
    expect(findOutsideReferences('docs/acl.md', 'see [the spec](../../notes/spec.md)')).toHaveLength(1);
    expect(findOutsideReferences('src/a/b.ts', `// see ${OUTSIDE_NAMES[0]} "HTTP"`)).toHaveLength(1);
  });

  test('accepts references that stay inside', () => {
    expect(findOutsideReferences('test/unit/x.test.ts', "import { a } from '../../src/a.js';")).toEqual([]);
    expect(findOutsideReferences('scripts/x.sh', 'cd "$(dirname "$0")/.."')).toEqual([]);
    expect(findOutsideReferences('docs/backends/ldap.md', '[ACL](../acl.md)')).toEqual([]);
  });

  test('no project file reads, imports, links or cites a path outside the repository', () => {
    const findings = projectFiles()
      .filter((f) => TEXT.has(extname(f)) && f !== 'test/unit/self-contained.test.ts')
      .flatMap((f) => findOutsideReferences(f, readFileSync(resolve(root, f), 'utf8')));
    expect(findings.map((f) => `${f.where}: ${f.text}`)).toEqual([]);
  });
});

describe('test file names (docs/architecture.md "Tests")', () => {
  test('every unit test is named after the src/ folder or the repository part it checks', () => {
    const folders = readdirSync(resolve(root, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    const repositoryParts = ['bench', 'docs', 'examples', 'package', 'self-contained'];
    const misnamed = readdirSync(resolve(root, 'test/unit')).filter((name) => {
      const m = /^([a-z]+)(?:-[a-z0-9-]+)?\.test\.ts$/.exec(name);
      if (!m) return true;
      return !folders.includes(m[1]!) && !repositoryParts.some((p) => name.startsWith(`${p}`));
    });
    expect(misnamed).toEqual([]);
    expect(folders.length).toBeGreaterThan(5);
  });
});
