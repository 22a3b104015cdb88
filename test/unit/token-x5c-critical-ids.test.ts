import { KeyObject, webcrypto } from 'node:crypto';
import { expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { loadX509 } from '../../src/token/x509.js';

// docs/registry-compatibility.md "x5c chains": what Go refuses is refused at load. 5492ece took
// the subject key identifier and authority information access as handled when critical, but Go's
// parser refuses a certificate where either is marked critical ("incorrectly marked critical"):
// the registry cannot even parse such an x5c certificate, and every token fails. Found by a
// review of that change.

async function withCritical(
  extension: (x509: Awaited<ReturnType<typeof loadX509>>, key: webcrypto.CryptoKey) => Promise<unknown>,
) {
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=critical handled extension',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      signingAlgorithm: alg,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        (await extension(x509, keys.publicKey)) as InstanceType<typeof x509.Extension>,
      ],
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  return {
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: `${cert.toString('pem')}\n`,
  };
}

function loadError(keyPem: string, certPem: string): unknown {
  try {
    loadSigningKey({ keyPem, certPem, x5c: true, kidFormat: 'libtrust', certPath: '/k/token.pem' });
    return undefined;
  } catch (err) {
    return err;
  }
}

test('with x5c, a certificate whose subject key identifier is marked critical (Go fails to parse it) is refused at load', async () => {
  const { keyPem, certPem } = await withCritical(async (x509, key) => {
    const ski = await x509.SubjectKeyIdentifierExtension.create(
      key,
      false,
      webcrypto as unknown as Parameters<typeof x509.SubjectKeyIdentifierExtension.create>[2],
    );
    return new x509.Extension(ski.type, true, ski.value);
  });
  const error = loadError(keyPem, certPem);
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});

test('with x5c, a certificate whose authority information access is marked critical (Go fails to parse it) is refused at load', async () => {
  const { keyPem, certPem } = await withCritical(async (x509) => {
    const aia = new x509.AuthorityInfoAccessExtension(
      { caIssuers: [new x509.GeneralName('url', 'http://ca.example/ca.crt')] },
      false,
    );
    return new x509.Extension(aia.type, true, aia.value);
  });
  const error = loadError(keyPem, certPem);
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});
