/**
 * Found by a review of the filtered catalog and its registry page.
 *
 * Defect: the registry page's repository view (`/ui/repository?name=…`) answers 503 ("the
 * registry cannot be reached; retry later") for every repository holding more tags than fit in
 * 4 MiB of JSON, e.g. ~100,000 tags named by a commit SHA (43 bytes each in the list), instead of
 * showing its first 1,000 tags.
 *
 * What the docs promise (docs/catalog.md "The registry page"): "`/ui/repository?name=…`: a
 * repository's tags (up to 1,000)", and 503 only when "the registry unreachable". src/catalog/
 * browse.ts asks `GET /v2/<name>/tags/list?n=1000`, but registry 2.8 (the one docs and the e2e
 * harness target: Debian docker-registry 2.8.2) ignores `n` on tags/list and always returns
 * every tag, unsorted (checked against /usr/bin/docker-registry 2.8.2: `?n=1` on a repository
 * with tags a, b, c answers {"tags":["b","c","a"]}). RegistryBrowser.tags then reads that body
 * through #document, capped at MAX_DOCUMENT (4 MiB, meant for a manifest), and the cap turns
 * into `unavailable()` → 503. The registry is healthy; the page is permanently broken for that
 * repository, and an operator reading the log sees an outage that is not one.
 *
 * Suggested fix: read the tag list as a stream (a small incremental JSON scan of the `tags`
 * array) keeping only the 1,000 smallest names (a bounded max-heap), with a separate, larger
 * bound on the bytes read (or follow the `Link` of registries that do paginate); or at least
 * document the limit and answer it with a clear message rather than the outage 503.
 */
import { expect, test } from 'vitest';
import { RegistryBrowser } from '../../src/catalog/browse.js';
import { catalogConfig } from '../helpers/catalog.js';

/** 110,000 distinct 40-hex-character tags (commit SHAs), shuffled as 2.8's directory listing is. */
function manyTags(): string[] {
  const tags: string[] = [];
  for (let i = 0; i < 110_000; i++) tags.push((i * 2654435761).toString(16).padStart(40, '0').slice(-40));
  return tags.reverse();
}

/** Registry 2.8's tags/list: every tag whatever `n` says, no Link. */
function registry28(tags: readonly string[]): typeof fetch {
  const body = JSON.stringify({ name: 'ci/app', tags });
  return (async () =>
    new Response(body, {
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
    })) as unknown as typeof fetch;
}

test('a repository with ~110,000 tags (4.5 MiB of tag list) shows its first 1,000 tags, not 503', async () => {
  const tags = manyTags();
  const browser = new RegistryBrowser(catalogConfig(), registry28(tags));
  // Today: rejects with CatalogError 503 UNAVAILABLE ("http://… sent more than 4194304 bytes").
  const shown = await browser.tags('own-token', 'ci/app');
  expect(shown).toHaveLength(1000);
  expect(shown).toEqual([...tags].sort().slice(0, 1000));
});

/** A registry answering tags/list with `body`, streamed in chunks of `chunk` bytes. */
function answering(body: string | (() => AsyncGenerator<Uint8Array>), chunk = 7): typeof fetch {
  return (async () => {
    const source =
      typeof body === 'string'
        ? (async function* () {
            const bytes = Buffer.from(body);
            for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
          })()
        : body();
    return new Response(ReadableStream.from(source), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  }) as unknown as typeof fetch;
}

test.each([
  ['tags null (a repository without tags)', '{"name":"ci/app","tags":null}', []],
  ['no tags key', '{"name":"ci/app"}', []],
  ['tags not an array', '{"name":"ci/app","tags":"latest"}', []],
  [
    'values that are no string skipped, nested ones too',
    '{"tags":["b",1,null,["a"],{"x":"a"},"c","a"]}',
    ['a', 'b', 'c'],
  ],
  ['a nested "tags" key is not the list', '{"name":"x","meta":{"tags":["z"]},"tags":["y"]}', ['y']],
  [
    'escapes and names split across chunks',
    '{"tags":["v1.\\u0030","latest","v0.9"]}',
    ['latest', 'v0.9', 'v1.0'],
  ],
])('%s', async (_name, body, shown) => {
  const browser = new RegistryBrowser(catalogConfig(), answering(body));
  expect(await browser.tags('own-token', 'ci/app')).toEqual(shown);
});

test('JSON that does not parse: the registry failed to answer (503)', async () => {
  const browser = new RegistryBrowser(catalogConfig(), answering('{"tags":["a",'));
  await expect(browser.tags('own-token', 'ci/app')).rejects.toMatchObject({ status: 503 });
});

test('a tag list past 64 MiB is refused (503), read no further', async () => {
  let sent = 0;
  const browser = new RegistryBrowser(
    catalogConfig(),
    answering(async function* () {
      yield Buffer.from('{"tags":[');
      const blanks = Buffer.alloc(1 << 20, ' ');
      for (;;) {
        sent += blanks.length;
        yield blanks;
      }
    }),
  );
  await expect(browser.tags('own-token', 'ci/app')).rejects.toMatchObject({ status: 503 });
  expect(sent).toBeLessThan(70 << 20);
});
