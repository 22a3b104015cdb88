import { expect, test, vi } from 'vitest';

// Found by a review of d591fce/b6758b5: each probe for a parent a page's end left behind starts
// from lastBefore(seen, parent), a scan of every name read (the probes come after the main
// reading: all of them). With namespaces that are not repositories (`ci/<project>/<build>`)
// every page's end leaves one, so a read costs pages × names comparisons (names²/1,000), about
// 300 per name here. 300,000 such repositories from a registry that answers at once took 5.4 s
// of regauth's CPU (10 s on a loaded machine), against 0.18 s for as many names that leave
// nothing behind: past the 5 s default `timeout`, so a 503 for every caller, read again every
// cache_ttl, each probe's scan holding the event loop. The name before a parent can be found by
// a binary search in the names sorted once after the main reading (what the probes add there
// are only parents above the one asked for, which come after it in the walk anyway).
let compared = 0;
vi.mock('../../src/catalog/pages.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/catalog/pages.js')>();
  return {
    ...real,
    compareRepositories: (a: string, b: string) => {
      compared++;
      return real.compareRepositories(a, b);
    },
  };
});

/** A registry that lists in `last`'s order (as one without 2.8's walk does), and answers at once. */
function plainRegistry(repositories: readonly string[]): typeof fetch {
  const key = (s: string) => s.replaceAll('/', '\u0000');
  const sorted = [...repositories].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const keys = sorted.map(key);
  return (async (input: string | URL) => {
    const url = new URL(String(input));
    const n = Number(url.searchParams.get('n') ?? 100);
    const last = key(url.searchParams.get('last') ?? '');
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (keys[mid]! <= last) lo = mid + 1;
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

test('a catalog whose every page end leaves a parent behind costs no scan of all names per probe', async () => {
  const { RegistryCatalog } = await import('../../src/catalog/registry.js');
  const { catalogConfig } = await import('../helpers/catalog.js');
  const count = 200_000;
  const names = Array.from({ length: count }, (_, i) => `ci/p${String(i).padStart(7, '0')}/1`);
  const catalog = new RegistryCatalog(
    catalogConfig({ timeout: 600 }),
    async () => 'own-token',
    plainRegistry(names),
  );
  compared = 0;
  expect((await catalog.get(Date.now())).repositories).toHaveLength(count);
  // Sorting the names (the read ends so) is count × log2(count), about 18 × count: a read may
  // cost a few of those, not 100 (about one scan of half the names per page of 1,000).
  expect(compared).toBeLessThan(60 * count);
}, 120_000);
