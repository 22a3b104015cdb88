import type { CatalogConfig } from '../../src/catalog/config.js';

/** `catalog:` as its defaults make it, for a registry at an address never reached. */
export function catalogConfig(overrides: Partial<CatalogConfig> = {}): CatalogConfig {
  return {
    registryUrl: 'http://registry.invalid',
    realm: 'https://h/auth',
    registryService: 'reg',
    service: 'regauth-catalog',
    pageSize: 1000,
    cacheTtl: 10,
    uiSession: 3600,
    timeout: 5,
    ...overrides,
  };
}

/**
 * A registry answering every request with a body of spaces that ends only after `upTo` bytes,
 * and how many bytes it was asked for so far (what the reader pulled).
 */
export function endlessRegistry(upTo = 128 * 1024 * 1024): { fetch: typeof fetch; pulled: () => number } {
  let pulled = 0;
  const chunk = new Uint8Array(1024 * 1024).fill(0x20);
  const impl = (async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          pulled += chunk.length;
          if (pulled >= upTo) controller.close();
          else controller.enqueue(chunk);
        },
      }),
      { status: 200, headers: { 'content-type': 'application/json' } },
    )) as unknown as typeof fetch;
  return { fetch: impl, pulled: () => pulled };
}
