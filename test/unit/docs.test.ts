import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

/**
 * The README and the manual in docs/: links resolve (files and heading anchors), the README stays
 * an entry point, every page of the manual is reachable from it, and no document points outside
 * the repository.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const SKIP = new Set(['node_modules', 'dist', 'data', 'coverage', '.git']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    if (SKIP.has(entry)) return [];
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return entry.endsWith('.md') ? [path] : [];
  });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|js|sh)$/.test(entry) ? [path] : [];
  });
}

/** The text outside fenced code blocks and inline code, line by line (links there are not links). */
function proseLines(markdown: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((text, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
    if (marker) {
      if (fence === undefined) fence = marker;
      else if (marker.startsWith(fence)) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line: i + 1, text: text.replace(/`[^`]*`/g, '``') });
  });
  return out;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to `-`, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) fence = !fence;
    const heading = fence ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/[`*]/g, '')
      .trim()
      .toLowerCase();
    const base = text.replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

interface Link {
  readonly file: string;
  readonly line: number;
  readonly target: string;
}

function relativeLinks(file: string): Link[] {
  const links: Link[] = [];
  for (const { line, text } of proseLines(readFileSync(file, 'utf8'))) {
    for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      links.push({ file, line, target });
    }
  }
  return links;
}

/** Why a link does not resolve, or undefined when it does. */
function brokenLink(link: Link): string | undefined {
  const [path, anchor] = link.target.split('#', 2) as [string, string | undefined];
  const target = path === '' ? link.file : resolve(dirname(link.file), decodeURIComponent(path));
  if (!target.startsWith(ROOT)) return 'points outside the repository';
  if (!existsSync(target)) return 'no such file';
  if (anchor !== undefined && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) {
    return `no heading #${anchor} in ${relative(ROOT, target)}`;
  }
  return undefined;
}

const README = join(ROOT, 'README.md');
const DOCS = join(ROOT, 'docs');
const manual = [README, ...markdownFiles(DOCS)];

describe('README and docs/', () => {
  test('every relative link points to an existing file and heading', () => {
    const links = manual.flatMap(relativeLinks);
    expect(links.length).toBeGreaterThan(50);
    const broken = links.flatMap((link) => {
      const why = brokenLink(link);
      return why ? [`${relative(ROOT, link.file)}:${link.line}: (${link.target}) ${why}`] : [];
    });
    expect(broken).toEqual([]);
  });

  test('the link check finds broken files and anchors', () => {
    const file = join(DOCS, 'acl.md');
    expect(brokenLink({ file, line: 1, target: 'operations.md#reload' })).toBeUndefined();
    expect(brokenLink({ file, line: 1, target: 'no-such-page.md' })).toBe('no such file');
    expect(brokenLink({ file, line: 1, target: 'operations.md#no-such-heading' })).toMatch(/no heading/);
    expect(brokenLink({ file, line: 1, target: '#placeholders' })).toBeUndefined();
    expect(brokenLink({ file, line: 1, target: '../../elsewhere.md' })).toBe('points outside the repository');
  });

  test('every repository path the README and docs name exists', () => {
    // Files the reader creates, not the repository.
    const created = new Set(['compose/.env']);
    const path = /(?<![\w./-])((?:examples|compose|src|test|scripts|bench|docs)\/[\w./-]*)/g;
    const named = manual.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(path)].map((m) => ({ file, path: m[1]!.replace(/\.$/, '') })),
    );
    expect(named.length).toBeGreaterThan(50);
    const missing = named
      .filter(({ path }) => !created.has(path) && !existsSync(join(ROOT, path)))
      .map(({ file, path }) => `${relative(ROOT, file)}: ${path}`);
    expect(missing).toEqual([]);
  });

  test('the README is an entry point of at most 200 lines', () => {
    const lines = readFileSync(README, 'utf8').trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(200);
  });

  test('every page of docs/ is linked from the README', () => {
    const linked = new Set(relativeLinks(README).map((l) => resolve(ROOT, l.target.split('#')[0]!)));
    const unlinked = markdownFiles(DOCS)
      .filter((page) => !linked.has(page))
      .map((page) => relative(ROOT, page));
    expect(unlinked).toEqual([]);
  });

  test('every example is listed in the Examples table of docs/deployment.md', () => {
    const deployment = readFileSync(join(DOCS, 'deployment.md'), 'utf8');
    const table = deployment.slice(deployment.indexOf('## Examples'));
    const rows = new Set([...table.matchAll(/^\| `examples\/([^`]+)`/gm)].map((m) => m[1]!.split('/')[0]));
    const examples = readdirSync(join(ROOT, 'examples'));
    expect(examples.length).toBeGreaterThan(5);
    expect(examples.filter((name) => !rows.has(name))).toEqual([]);
  });

  test('comments that cite docs/ name an existing page and heading', () => {
    // `docs/acl.md "Placeholders"`, possibly broken over two comment lines; distribution's own
    // docs/spec/… is upstream, not ours.
    const cite = /\bdocs\/([\w/.-]+\.md)(?:\s*(?:\*\s*)?"([^"\n]+)")?/g;
    const sources = ['src', 'test', 'scripts', 'bench'].flatMap((dir) => sourceFiles(join(ROOT, dir)));
    const citations = sources.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(cite)]
        .filter((m) => !m[1]!.startsWith('spec/'))
        .map((m) => ({ file, page: m[1]!, heading: m[2] })),
    );
    expect(citations.length).toBeGreaterThan(20);
    const wrong = citations.flatMap(({ file, page, heading }) => {
      const path = join(DOCS, page);
      const where = `${relative(ROOT, file)}: docs/${page}`;
      if (!existsSync(path)) return [`${where}: no such page`];
      if (heading === undefined) return [];
      const headings = readFileSync(path, 'utf8')
        .split('\n')
        .flatMap((line) => /^#{1,6}\s+(.+)$/.exec(line)?.[1]?.replace(/`/g, '') ?? []);
      return headings.includes(heading.replace(/`/g, '')) ? [] : [`${where} "${heading}": no such heading`];
    });
    expect(wrong).toEqual([]);
  });

  test('no markdown file mentions a file outside the repository', () => {
    // Spelled in pieces so this test does not match its own search.
    const outside = [['..', 'shared'].join('/'), ['design', 'md'].join('.'), ['protocol', 'md'].join('.')];
    const files = markdownFiles(ROOT);
    expect(files).toContain(README);
    const found = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return outside.filter((s) => text.includes(s)).map((s) => `${relative(ROOT, file)}: ${s}`);
    });
    expect(found).toEqual([]);
  });
});

describe('README "How a request flows"', () => {
  test('every function the stage table names is exported by the file it names', () => {
    const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('## How a request flows'),
      readme.indexOf('## Documentation'),
    );
    const rows = section.split('\n').filter((l) => /^\| [a-z]+ +\| `src\//.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(8);
    const missing: string[] = [];
    for (const row of rows) {
      let file: string | undefined;
      for (const [, code] of row.matchAll(/`([^`]+)`/g)) {
        if (code!.startsWith('src/')) {
          file = code!.endsWith('.ts') ? code : undefined;
          continue;
        }
        // Config keys (`ext_authz`) are not code names.
        if (!file || !/^[A-Za-z][A-Za-z0-9]*$/.test(code!)) continue;
        const text = readFileSync(resolve(ROOT, file), 'utf8');
        const exported = new RegExp(`export (async )?(function|class|const) ${code}\\b`).test(text);
        if (!exported) missing.push(`${file} ${code}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
