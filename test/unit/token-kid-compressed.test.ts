import { ECDH, X509Certificate, createPrivateKey } from 'node:crypto';
import { expect, test } from 'vitest';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { libtrustKeyId } from '../../src/token/kid.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { signAccessToken } from '../../src/token/sign.js';
import { createRegistry28Verifier } from '../helpers/registry-verify.js';

// docs/registry-compatibility.md "Key IDs": the kid is the one registry 2.8 computes from the
// certificate. libtrustKeyId hashed the SubjectPublicKeyInfo as node exported it, and node keeps
// an EC point in the form the key was stored in: a SEC1 key written with a compressed point got
// another kid, and with x5c: false registry 2.8 refused every token. Found by a review.

/**
 * The same P-256 key as SEC1 PEM with its public point stored compressed (what
 * `openssl ec -conv_form compressed` writes). The private scalar, and so the key, is unchanged.
 */
function compressedSec1(keyPem: string): string {
  const der = createPrivateKey(keyPem).export({ type: 'sec1', format: 'der' });
  // 30 77 02 01 01 04 20 <d:32> a0 0a 06 08 <oid:8> a1 44 03 42 00 04 <x:32> <y:32>
  expect(der.length).toBe(0x79);
  const head = der.subarray(2, 2 + 3 + 2 + 32 + 12); // version, privateKey, [0] parameters
  const point = der.subarray(der.length - 65);
  const compressed = ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'compressed') as Buffer;
  const pub = Buffer.concat([Buffer.from([0xa1, 0x24, 0x03, 0x22, 0x00]), compressed]);
  const body = Buffer.concat([head, pub]);
  const out = Buffer.concat([Buffer.from([0x30, body.length]), body]);
  const b64 = out.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN EC PRIVATE KEY-----\n${b64}\n-----END EC PRIVATE KEY-----\n`;
}

test('the libtrust kid of an EC key stored with a compressed point is the one registry 2.8 computes from its certificate', async () => {
  const { keyPem, certPem } = await generateSigningMaterial({ alg: 'ES256', commonName: 'c', validDays: 2 });
  const compressedPem = compressedSec1(keyPem);
  // Same key: the certificate matches it and loads.
  const key = loadSigningKey({ keyPem: compressedPem, certPem, x5c: false, kidFormat: 'libtrust' });
  // Registry 2.8 files each rootcertbundle key under the libtrust ID of the certificate's key
  // (Go marshals the SPKI uncompressed).
  const registryKid = libtrustKeyId(new X509Certificate(certPem).publicKey);
  expect(key.kid).toBe(registryKid);

  // And the kid-only token (x5c: false) is accepted by the registry.
  const now = Math.floor(Date.now() / 1000);
  const token = await signAccessToken(
    key,
    { subject: 'alice', audience: 'reg', access: [] },
    { issuer: 'regauth', expiresInSeconds: 300, now },
  );
  const verify = createRegistry28Verifier({
    issuer: 'regauth',
    service: 'reg',
    rootCertBundle: certPem,
    now: () => now * 1000,
  });
  expect(() => verify(token)).not.toThrow();
});
