import { describe, expect, test } from 'vitest';
import { RegistryCatalog } from '../../src/catalog/registry.js';
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

// A page of the registry's catalog was read whole, whatever its size. Found by a review.
describe("the registry's catalog: one page far larger than the 1000 names asked for", () => {
  test('is refused without buffering it whole', async () => {
    let pulled = 0;
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    const impl = (async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            pulled += chunk.length;
            if (pulled >= 128 * 1024 * 1024) controller.close();
            else controller.enqueue(chunk);
          },
        }),
        { status: 200, headers: { 'content-type': 'application/json' } },
      )) as unknown as typeof fetch;
    const catalog = new RegistryCatalog(config, async () => 'own-token', impl);
    const err = await catalog.get(Date.now()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CatalogError);
    // 1000 names of at most 255 bytes each is ~260 KB; 16 MiB is generous. It reads all 128 MiB.
    expect(pulled).toBeLessThanOrEqual(16 * 1024 * 1024);
  });
});
