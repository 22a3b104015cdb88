import fc from 'fast-check';
import { expect, test } from 'vitest';
import { RegistryCatalog } from '../../src/catalog/registry.js';
import { catalogConfig } from '../helpers/catalog.js';

// Registry 2.8's catalog (registry/storage/catalog.go, Repositories and handleRepository; the
// handler in registry/handlers/catalog.go), modelled on a set of repositories: its storage walk
// visits a directory's entries in byte order, so the `_layers` that makes `p` a repository comes
// after `p`'s children named with a digit and before those named with a letter; a repository is
// reported when lessPath(last, name); the walk stops only at a directory that is not a
// repository's once the page is full, and only then is a Link sent. The real registry shows the
// same in test/e2e/catalog-registry-paging-order.test.ts.

type Node = Map<string, Node>;

function tree(repositories: readonly string[]): Node {
  const root: Node = new Map();
  for (const name of repositories) {
    let node = root;
    for (const part of name.split('/')) {
      if (!node.has(part)) node.set(part, new Map());
      node = node.get(part)!;
    }
    node.set('_layers', new Map());
  }
  return root;
}

function lessPath(a: string, b: string): boolean {
  const x = a.replaceAll('/', '\u0000');
  const y = b.replaceAll('/', '\u0000');
  return x < y;
}

/** Repositories(repos of size n, last): the page and whether the handler sends a Link. */
function registry28(root: Node, n: number, last: string): { page: string[]; link: boolean } {
  const found: string[] = [];
  let finished = false;
  const walk = (node: Node, path: string): void => {
    for (const entry of [...node.keys()].sort()) {
      const child = path === '' ? entry : `${path}/${entry}`;
      // handleRepository
      if (entry === '_layers') {
        if (lessPath(last, path)) found.push(path);
        continue; // ErrSkipDir, returned before the walk function's "full" check
      }
      if (entry.startsWith('_')) continue;
      if (found.length === n) {
        finished = true;
        continue; // ErrSkipDir: the directory is not entered
      }
      walk(node.get(entry)!, child);
    }
  };
  walk(root, '');
  return { page: found.slice(0, n), link: finished };
}

function fakeFetch(repositories: readonly string[], n: number): typeof fetch {
  const root = tree(repositories);
  return (async (input: string | URL) => {
    const url = new URL(String(input));
    const asked = url.searchParams.get('n');
    if (asked !== null && Number(asked) > n) return new Response('{"errors":[]}', { status: 400 });
    const { page, link } = registry28(root, n, url.searchParams.get('last') ?? '');
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (link) headers['link'] = `</v2/_catalog?last=${encodeURIComponent(page.at(-1)!)}&n=${n}>; rel="next"`;
    return new Response(JSON.stringify({ repositories: page }), { headers });
  }) as typeof fetch;
}

const read = async (repositories: readonly string[], n: number) =>
  (
    await new RegistryCatalog(catalogConfig(), async () => 'own-token', fakeFetch(repositories, n)).get(
      Date.now(),
    )
  ).repositories;

test('the cases the real registry showed, and a parent under a parent', async () => {
  expect(await read(['a/r0', 'a/r1', 'p/0a', 'p', 'z'], 3)).toEqual(['a/r0', 'a/r1', 'p', 'p/0a', 'z']);
  expect(await read(['a/r0', 'a/r1', 'p/0a', 'p/1b', 'p', 'z'], 3)).toEqual([
    'a/r0',
    'a/r1',
    'p',
    'p/0a',
    'p/1b',
    'z',
  ]);
  const nested = ['p', 'p/0a', 'p/0a/1b', 'p/0a/2c', 'p/0a/2c/3d', 'p/b', 'q'];
  // p comes after its four names under p/0a, so a page of five reaches it.
  for (const n of [5, 6, 7]) expect(await read(nested, n)).toEqual(nested);
});

test('a parent with as many names under its digit children as a page holds cannot be reached: the read still ends', async () => {
  const children = Array.from({ length: 5 }, (_, i) => `p/${i}x`);
  expect(await read(['p', ...children, 'z'], 3)).toEqual([...children, 'z']);
});

// Names from a small alphabet, so that parents, digit children and letter children meet often.
const component = fc.stringMatching(/^[0-9a-b][0-9a-b]?$/);
const name = fc.array(component, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));

test('every repository is read, whatever the layout and the page size (each with fewer names under its digit children than a page)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(name, { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 2, max: 6 }),
      async (names, n) => {
        // Reachable: the registry walks every name under a repository's digit children before it.
        const digitChildren = (p: string) =>
          names.filter((x) => x.startsWith(`${p}/`) && /^[0-9]/.test(x.slice(p.length + 1))).length;
        fc.pre(names.every((p) => digitChildren(p) < n));
        expect(await read(names, n)).toEqual(
          [...names].sort((a, b) => (lessPath(a, b) ? -1 : lessPath(b, a) ? 1 : 0)),
        );
      },
    ),
    { numRuns: 500 },
  );
});
