import { expect, test } from 'vitest';
import { RegistryBrowser } from '../../src/catalog/browse.js';
import { CatalogError } from '../../src/catalog/errors.js';
import { RegistryCatalog } from '../../src/catalog/registry.js';
import { catalogConfig, endlessRegistry } from '../helpers/catalog.js';

// The registry's answers were read whole (arrayBuffer, json) before any size check: memory was
// bounded only by the timeout times the registry's speed. Found by a review.

test('the registry page refuses a manifest past 4 MiB without reading it whole', async () => {
  const registry = endlessRegistry();
  const err = await new RegistryBrowser(catalogConfig(), registry.fetch)
    .describe('t', 'public/a', 'latest')
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CatalogError);
  expect((err as CatalogError).status).toBe(503);
  expect(registry.pulled()).toBeLessThanOrEqual(6 * 1024 * 1024);
});

test('the registry page refuses a tag list past 64 MiB without reading it whole', async () => {
  // Registry 2.8 sends every tag: the list is read as a stream (catalog-browse-many-tags), bounded.
  const registry = endlessRegistry();
  const err = await new RegistryBrowser(catalogConfig(), registry.fetch)
    .tags('t', 'public/a')
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CatalogError);
  expect((err as CatalogError).status).toBe(503);
  expect(registry.pulled()).toBeGreaterThan(64 * 1024 * 1024);
  expect(registry.pulled()).toBeLessThanOrEqual(66 * 1024 * 1024);
});

test('the catalog refuses a page of the registry’s catalog past 8 MiB without reading it whole', async () => {
  // 1,000 names (what is asked for) of at most 255 characters are about 260 KB.
  const registry = endlessRegistry();
  const err = await new RegistryCatalog(catalogConfig(), async () => 'own-token', registry.fetch)
    .get(Date.now())
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CatalogError);
  expect(registry.pulled()).toBeLessThanOrEqual(10 * 1024 * 1024);
});
