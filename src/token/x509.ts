import { webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

let loading: Promise<typeof X509> | undefined;

/**
 * @peculiar/x509, loaded on first use with Node's WebCrypto as its crypto provider.
 *
 * Loaded lazily (dynamic imports): only key generation needs it, not the server's hot path;
 * and its dependency tsyringe throws at import time unless `reflect-metadata` is installed
 * first, which hoisted static imports cannot order reliably.
 */
export function loadX509(): Promise<typeof X509> {
  loading ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return loading;
}
