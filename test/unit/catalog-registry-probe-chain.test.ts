import { expect, test } from 'vitest';
import { RegistryCatalog } from '../../src/catalog/registry.js';
import { compareRepositories } from '../../src/catalog/pages.js';
import { catalogConfig } from '../helpers/catalog.js';

// Found by a review of d591fce: each probe for a "deferred parent" derives further parents from the end of
// the page it got back (leftBehind in the pending loop). When the parents are namespaces that are
// not repositories (`ci/<project>/<build number>`, `<team>/1password`...), every probe's page ends
// on another such name, whose parent is new: each page boundary starts a chain of probes that runs
// to the end of the catalog, so a read costs about pages²/2 requests of a full page each. 150,000
// repositories laid out so need more than MAX_UPSTREAM_PAGES (10,000): the read fails ("the
// registry sent too many catalog pages") and the catalog is 503 for every caller; far earlier, the
// 5 s timeout ends it against a real registry, whose every page walks its storage.
//
// The main loop already covers every name but the deferred parents of its page ends (the walk
// differs from `last`'s order only by putting a repository after its digit-named children), so
// one probe per such parent is enough: what a probe's page ends on adds nothing new.

function plainRegistry(
  repositories: readonly string[],
  max: number,
  counter: { requests: number },
): typeof fetch {
  const sorted = [...repositories].sort(compareRepositories);
  return (async (input: string | URL) => {
    counter.requests++;
    const url = new URL(String(input));
    const n = Number(url.searchParams.get('n') ?? Math.min(100, max));
    if (n > max) return new Response('{"errors":[]}', { status: 400 });
    const last = url.searchParams.get('last') ?? '';
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareRepositories(sorted[mid]!, last) <= 0) lo = mid + 1;
      else hi = mid;
    }
    const page = sorted.slice(lo, lo + n);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (lo + n < sorted.length) {
      headers['link'] = `</v2/_catalog?last=${encodeURIComponent(page.at(-1)!)}&n=${n}>; rel="next"`;
    }
    return new Response(JSON.stringify({ repositories: page }), { headers });
  }) as typeof fetch;
}

// Registry 2.8's walk, as in test/unit/catalog-registry-walk-order.test.ts.
type Node = Map<string, Node>;
const lessPath = (a: string, b: string) => a.replaceAll('/', '\u0000') < b.replaceAll('/', '\u0000');
function registry28(
  repositories: readonly string[],
  max: number,
  counter: { requests: number },
): typeof fetch {
  const root: Node = new Map();
  for (const name of repositories) {
    let node = root;
    for (const part of name.split('/')) {
      if (!node.has(part)) node.set(part, new Map());
      node = node.get(part)!;
    }
    node.set('_layers', new Map());
  }
  return (async (input: string | URL) => {
    counter.requests++;
    const url = new URL(String(input));
    const asked = url.searchParams.get('n');
    if (asked !== null && Number(asked) > max) return new Response('{"errors":[]}', { status: 400 });
    const n = asked === null ? Math.min(100, max) : Number(asked);
    const last = url.searchParams.get('last') ?? '';
    const found: string[] = [];
    let finished = false;
    const walk = (node: Node, path: string): void => {
      for (const entry of [...node.keys()].sort()) {
        if (entry === '_layers') {
          if (lessPath(last, path)) found.push(path);
          continue;
        }
        if (found.length === n) {
          finished = true;
          continue;
        }
        walk(node.get(entry)!, path === '' ? entry : `${path}/${entry}`);
      }
    };
    walk(root, '');
    const page = found.slice(0, n);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (finished)
      headers['link'] = `</v2/_catalog?last=${encodeURIComponent(page.at(-1)!)}&n=${n}>; rel="next"`;
    return new Response(JSON.stringify({ repositories: page }), { headers });
  }) as typeof fetch;
}

async function read(registry: typeof fetch): Promise<number> {
  const catalog = new RegistryCatalog(catalogConfig({ timeout: 600 }), async () => 'own-token', registry);
  return (await catalog.get(Date.now())).repositories.length;
}

test('a catalog of namespaces that are not repositories, each with a digit-named one, costs about one probe per page', async () => {
  // 20,000 repositories, 20 pages of 1,000: at most one probe per page end (and one empty page).
  const names = Array.from({ length: 20_000 }, (_, i) => `ci/p${String(i).padStart(6, '0')}/1`);
  const counter = { requests: 0 };
  expect(await read(plainRegistry(names, 1000, counter))).toBe(names.length);
  expect(counter.requests).toBeLessThanOrEqual(2 * 20 + 2);
});

test('the same against registry 2.8 with catalog.maxentries 10 (pages of 10)', async () => {
  const names = Array.from({ length: 1000 }, (_, i) => `t${String(i).padStart(4, '0')}/0a`);
  const counter = { requests: 0 };
  expect(await read(registry28(names, 10, counter))).toBe(names.length);
  // One refused n=1000, 100 pages, at most one probe each, one empty page.
  expect(counter.requests).toBeLessThanOrEqual(1 + 2 * 100 + 1);
});
