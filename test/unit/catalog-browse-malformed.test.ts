import { describe, expect, test } from 'vitest';
import { RegistryBrowser } from '../../src/catalog/browse.js';
import { CatalogError } from '../../src/catalog/errors.js';
import { catalogConfig } from '../helpers/catalog.js';

const config = catalogConfig();

const answering = (body: unknown): typeof fetch =>
  (async () =>
    new Response(JSON.stringify(body), {
      status: 200,
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    })) as unknown as typeof fetch;

// describe() read the manifest's lists and type unchecked: a registry answering nonsense made a
// TypeError, a 500 and an error line, where the page promises 503. Found by a review.
describe('registry page: a registry answering a malformed manifest', () => {
  test.each([
    ['an index listing null', { mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [null] }],
    ['layers listing null', { config: { size: 1 }, layers: [null] }],
    ['layers that are not a list', { config: { size: 1 }, layers: { size: 5 } }],
    ['a media type that is not a string', { mediaType: { x: 1 }, manifests: [] }],
  ])('%s: 503 (the registry cannot answer), as documented, never a TypeError/500', async (_what, body) => {
    const browser = new RegistryBrowser(config, answering(body));
    const err = await browser.describe('t', 'public/a', 'latest').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CatalogError);
    expect((err as CatalogError).status).toBe(503);
  });
});

// Found by the catalog review: the labels were copied by assignment, and one named __proto__
// set the object's prototype instead (a string, ignored): it vanished from the tag page.
test('an image label named __proto__ is shown like any other', async () => {
  const fetchImpl = (async (url: string | URL) =>
    String(url).includes('/manifests/')
      ? Response.json({ config: { digest: `sha256:${'a'.repeat(64)}`, size: 1 }, layers: [] })
      : new Response('{"config":{"Labels":{"__proto__":"shown","a":"b"}}}')) as unknown as typeof fetch;
  const described = await new RegistryBrowser(config, fetchImpl).describe('t', 'public/a', 'v1');
  expect(Object.entries(described.labels)).toEqual([
    ['__proto__', 'shown'],
    ['a', 'b'],
  ]);
});
