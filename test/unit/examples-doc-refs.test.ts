/**
 * Found by a review of the docs as a new operator reads them (examples/ directory: "each example
 * config must load with `regauth validate` and do what its comments claim").
 *
 * examples/docker-auth-migration.yml, the file a docker_auth user starts from, lists in its header
 * what behaves differently from docker_auth ("values substituted into patterns ... are escaped;
 * placeholders that cannot be resolved never match; `**` crosses "/" and `{a,b}` lists
 * alternatives") and then sends the reader on with `See README, "Config".` The README has no
 * "Config" section (its headings: Quick start, Quick start with Docker Compose, Tests, How a
 * request flows, Documentation), nor anything else called so: the reference leads nowhere. The
 * text it means is docs/acl.md "Differences from docker_auth" (the README's first paragraph links
 * there too, and docs/configuration.md "What regauth refuses from docker_auth" for the refusals).
 *
 * The test reads every `FILE, "Heading"` / `FILE "Heading"` reference in the shipped example
 * configs (examples/*, config.example.yml, compose/regauth/*.yml) and checks that FILE has a
 * heading, or a bold paragraph lead (`**Refused before the check.**`), of that name.
 *
 * Suggested fix: in examples/docker-auth-migration.yml write
 * `See docs/acl.md, "Differences from docker_auth".`
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function shipped(): string[] {
  const files: string[] = [join(ROOT, 'config.example.yml')];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(join(ROOT, 'examples'));
  walk(join(ROOT, 'compose/regauth'));
  return files;
}

/** Headings and bold paragraph leads of a markdown file, as written. */
function sections(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const headings = [...text.matchAll(/^#+\s+(.+?)\s*$/gm)].map((m) => m[1]!.replaceAll('`', ''));
  const leads = [...text.matchAll(/^\*\*(.+?)\.?\*\*/gm)].map((m) => m[1]!);
  return [...headings, ...leads];
}

const REF = /\b(README|docs\/[\w/-]+\.md),? "([^"]+)"/g;

test('every `FILE, "Section"` reference in the example configs names a section that exists', () => {
  const refs: { where: string; file: string; section: string }[] = [];
  for (const path of shipped()) {
    const lines = readFileSync(path, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!line.includes('#')) return;
      for (const m of line.matchAll(REF)) {
        refs.push({
          where: `${path.slice(ROOT.length + 1)}:${i + 1}`,
          file: m[1] === 'README' ? 'README.md' : m[1]!,
          section: m[2]!,
        });
      }
    });
  }
  // The references this review found, so the test cannot pass by finding none.
  expect(refs.map((r) => r.where.split(':')[0])).toContain('examples/docker-auth-migration.yml');
  const broken = refs
    .filter((r) => !sections(r.file).includes(r.section))
    .map((r) => `${r.where}: ${r.file} has no section "${r.section}"`);
  expect(broken).toEqual([]);
});
