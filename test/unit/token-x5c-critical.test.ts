import { KeyObject, webcrypto } from 'node:crypto';
import { expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { loadX509 } from '../../src/token/x509.js';

// docs/registry-compatibility.md "x5c chains": regauth checks at load what Go's verification
// refuses. A certificate with a critical extension Go does not handle loaded, and the registry
// refused every token signed with x5c ("unhandled critical extension"). Found by a review.

/**
 * A self-signed P-256 certificate for a fresh key, as `keys init` makes one, plus a critical
 * extension of an OID nobody implements. Go's x509 (the registry verifying `x5c`) refuses any
 * certificate with an unhandled critical extension (verify.go isValid: UnhandledCriticalExtension),
 * the leaf included, so every token carrying it in x5c is refused.
 */
async function withCriticalExtension(): Promise<{ keyPem: string; certPem: string }> {
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=odd extension',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      signingAlgorithm: alg,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.Extension('1.3.6.1.4.1.55555.1.2', true, new Uint8Array([0x05, 0x00])),
      ],
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  return {
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: `${cert.toString('pem')}\n`,
  };
}

test('with x5c, a certificate carrying an unknown critical extension (which Go refuses) is refused at load', async () => {
  const { keyPem, certPem } = await withCriticalExtension();
  let error: unknown;
  try {
    loadSigningKey({ keyPem, certPem, x5c: true, kidFormat: 'libtrust', certPath: '/k/token.pem' });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});
