/**
 * docs/registry-compatibility.md "x5c chains": what Go's crypto/x509 refuses is refused at load,
 * and what it accepts loads. Go refuses to parse a certificate holding the same extension twice
 * ("certificate contains duplicate extension"), critical or not, so the registry refuses every x5c
 * token signed with it; regauth loaded such a certificate. Found by a review, as was the policy
 * case below.
 */
import { KeyObject, webcrypto } from 'node:crypto';
import { expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { loadX509 } from '../../src/token/x509.js';

/** A self-signed P-256 certificate whose extensions are `extensions` (raw OID, DER value). */
async function withExtensions(extensions: readonly (readonly [string, readonly number[]])[]) {
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=duplicate extension',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      signingAlgorithm: alg,
      keys,
      extensions: extensions.map(([oid, der]) => new x509.Extension(oid, false, new Uint8Array(der))),
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  return {
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: `${cert.toString('pem')}\n`,
  };
}

const load =
  ({ keyPem, certPem }: { keyPem: string; certPem: string }) =>
  () =>
    loadSigningKey({ keyPem, certPem, x5c: true, kidFormat: 'libtrust', certPath: '/k/token.pem' });

// SEQUENCE { [2] "a.example.com" }, and the same with "b.example.com".
const SAN_A = [0x30, 0x0f, 0x82, 0x0d, ...Buffer.from('a.example.com')];
const SAN_B = [0x30, 0x0f, 0x82, 0x0d, ...Buffer.from('b.example.com')];

test('with x5c, a certificate holding the same extension twice is refused at load', async () => {
  for (const extensions of [
    [
      ['2.5.29.17', SAN_A],
      ['2.5.29.17', SAN_B],
    ],
    [
      ['1.2.3.4.5', [0x05, 0x00]],
      ['1.2.3.4.5', [0x0c, 0x01, 0x78]],
    ],
  ] as const) {
    const attempt = load(await withExtensions(extensions));
    expect(attempt).toThrow(RegauthError);
    expect(attempt).toThrow(
      /\/k\/token\.pem: certificate #1 \(CN=duplicate extension\) has the extension [\d.]+ twice/,
    );
  }
  // One of each loads.
  expect(
    load(
      await withExtensions([
        ['2.5.29.17', SAN_A],
        ['1.2.3.4.5', [0x05, 0x00]],
      ]),
    ),
  ).not.toThrow();
});

// RFC 5280 has a CA mark policy constraints and inhibit any policy critical, and registry 3's Go
// handles them (registry 2.8's does not: docs/registry-compatibility.md "x5c chains"). 5492ece
// refused them at load, so a chain from such a CA, which registry 3 accepts, did not load.
test('with x5c, the policy extensions a CA marks critical load', async () => {
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '02',
      name: 'CN=policy extensions',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      signingAlgorithm: alg,
      keys,
      extensions: [
        // policyConstraints { requireExplicitPolicy 0 }, inhibitAnyPolicy 0
        new x509.Extension('2.5.29.36', true, new Uint8Array([0x30, 0x03, 0x80, 0x01, 0x00])),
        new x509.Extension('2.5.29.54', true, new Uint8Array([0x02, 0x01, 0x00])),
      ],
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  expect(load({ keyPem, certPem: `${cert.toString('pem')}\n` })).not.toThrow();
});
