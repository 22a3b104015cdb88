import { describe, expect, test } from 'vitest';
import { RegistryBrowser } from '../../src/catalog/browse.js';
import { CatalogError } from '../../src/catalog/errors.js';
import type { CatalogConfig } from '../../src/catalog/config.js';

const config: CatalogConfig = {
  registryUrl: 'http://registry.invalid',
  realm: 'https://h/auth',
  registryService: 'reg',
  service: 'regauth-catalog',
  pageSize: 1000,
  cacheTtl: 10,
  uiSession: 3600,
  timeout: 5,
};

/** A registry answering with an endless body; counts the bytes regauth pulled from it. */
function endless(): { fetch: typeof fetch; pulled: () => number } {
  let pulled = 0;
  const chunk = new Uint8Array(1024 * 1024).fill(0x20);
  const impl = (async () => {
    let stop = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (stop) return;
        pulled += chunk.length;
        // Give up after 64 MiB so the test itself stays bounded.
        if (pulled >= 64 * 1024 * 1024) {
          stop = true;
          controller.close();
          return;
        }
        controller.enqueue(chunk);
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch;
  return { fetch: impl, pulled: () => pulled };
}

// The registry's answers were read whole (arrayBuffer, json) before any size check: memory was
// bounded only by the timeout times the registry's speed. Found by a review.
describe('registry page: a registry document larger than 4 MiB', () => {
  test('is refused without reading (and buffering) the whole body', async () => {
    const fake = endless();
    const browser = new RegistryBrowser(config, fake.fetch);
    const err = await browser.tags('t', 'public/a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CatalogError);
    expect((err as CatalogError).status).toBe(503);
    // The documented bound is 4 MiB: regauth should stop reading soon after it, not buffer 64 MiB.
    expect(fake.pulled()).toBeLessThanOrEqual(6 * 1024 * 1024);
  });
});
