import { createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { loadX509 } from '../../src/token/x509.js';

/**
 * docs/registry-compatibility.md "Signing keys": a key the registry cannot verify with is refused at
 * load. An RSA key with a public exponent over 2^31 - 1 loaded, and every token failed. Found by a
 * review.
 *
 * An RSA-2048 key whose public exponent is 2^31 + 1, with a self-signed certificate. Go's
 * crypto/rsa (libtrust in registry 2.8, go-jose in registry 3) refuses to verify with a key whose
 * exponent exceeds 2^31 - 1 (checkPub: "crypto/rsa: public exponent too large"): every token
 * signed with it would be refused.
 */
async function largeExponentKey(): Promise<{ keyPem: string; certPem: string }> {
  const x509 = await loadX509();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x80000001 });
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const priv = await webcrypto.subtle.importKey(
    'pkcs8',
    privateKey.export({ type: 'pkcs8', format: 'der' }),
    alg,
    true,
    ['sign'],
  );
  const pub = await webcrypto.subtle.importKey(
    'spki',
    createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
    alg,
    true,
    ['verify'],
  );
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=large exponent',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      signingAlgorithm: alg,
      keys: { privateKey: priv, publicKey: pub },
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: cert.toString('pem'),
  };
}

test('an RSA key whose public exponent the registry cannot verify with (> 2^31 - 1) is refused at load', async () => {
  const { keyPem, certPem } = await largeExponentKey();
  let error: unknown;
  try {
    loadSigningKey({ keyPem, certPem, x5c: true, kidFormat: 'libtrust', keyPath: '/k/token.key' });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});
