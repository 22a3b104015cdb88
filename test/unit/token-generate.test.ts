import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ensureDevKeys, generateSigningMaterial } from '../../src/token/generate.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { loadX509 } from '../../src/token/x509.js';

const NOW = new Date('2026-03-01T12:00:00Z');

describe('generateSigningMaterial', () => {
  test.each([
    ['ES256', 'ec', 'prime256v1', { name: 'ECDSA', hash: { name: 'SHA-256' } }],
    ['ES384', 'ec', 'secp384r1', { name: 'ECDSA', hash: { name: 'SHA-384' } }],
    ['ES512', 'ec', 'secp521r1', { name: 'ECDSA', hash: { name: 'SHA-512' } }],
    ['RS256', 'rsa', undefined, { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } }],
  ] as const)(
    '%s: PKCS#8 key and a self-signed CA certificate for it',
    async (alg, type, curve, signature) => {
      const { keyPem, certPem } = await generateSigningMaterial({
        alg,
        commonName: 'regauth, test',
        validDays: 30,
        now: NOW,
      });

      expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      const key = createPrivateKey(keyPem);
      expect(key.asymmetricKeyType).toBe(type);
      if (curve) expect(key.asymmetricKeyDetails?.namedCurve).toBe(curve);
      else expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);

      expect(certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
      const cert = new X509Certificate(certPem);
      expect(cert.publicKey.equals(createPublicKey(key))).toBe(true);
      expect(cert.subject).toBe('CN=regauth\\, test');
      expect(cert.issuer).toBe(cert.subject);
      expect(cert.ca).toBe(true);
      expect(cert.verify(cert.publicKey)).toBe(true);
      expect(new Date(cert.validFrom).toISOString()).toBe('2026-03-01T11:55:00.000Z');
      expect(new Date(cert.validTo).toISOString()).toBe('2026-03-31T12:00:00.000Z');

      const x509 = await loadX509();
      const parsed = new x509.X509Certificate(certPem);
      // SHA-256 or better: Go's x509.Verify refuses SHA-1 signed chains.
      expect(parsed.signatureAlgorithm).toMatchObject(signature);
      const usage = parsed.getExtension(x509.KeyUsagesExtension);
      expect(usage?.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign);
      expect(usage?.critical).toBe(true);
      expect(parsed.serialNumber).toMatch(/^[0-9a-f]{30,34}$/);

      // What regauth then loads at startup.
      const loaded = loadSigningKey({ keyPem, certPem, x5c: true, kidFormat: 'libtrust', now: NOW });
      expect(loaded.alg).toBe(alg);
    },
  );

  test('serial numbers are random', async () => {
    const a = await generateSigningMaterial({ alg: 'ES256', commonName: 'a', validDays: 1 });
    const b = await generateSigningMaterial({ alg: 'ES256', commonName: 'a', validDays: 1 });
    expect(new X509Certificate(a.certPem).serialNumber).not.toBe(new X509Certificate(b.certPem).serialNumber);
  });

  test.each([0, -1, 1.5])('refuses validDays %s', async (validDays) => {
    await expect(generateSigningMaterial({ alg: 'ES256', commonName: 'a', validDays })).rejects.toThrow(
      new TypeError('"validDays" must be a positive integer'),
    );
  });
});

describe('ensureDevKeys', () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'regauth-keys-'));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  test('creates the directory, a 0600 key and its certificate, then leaves them alone', async () => {
    const dir = join(base, 'nested', 'keys');
    const first = await ensureDevKeys(dir, { alg: 'ES384' });
    expect(first).toEqual({
      created: true,
      keyPath: join(dir, 'token.key'),
      certPath: join(dir, 'token.pem'),
    });
    expect((await stat(first.keyPath)).mode & 0o777).toBe(0o600);
    const keyPem = await readFile(first.keyPath, 'utf8');
    const certPem = await readFile(first.certPath, 'utf8');
    expect(loadSigningKey({ keyPem, certPem, x5c: true, kidFormat: 'libtrust' }).alg).toBe('ES384');

    const second = await ensureDevKeys(dir);
    expect(second).toEqual({ ...first, created: false });
    expect(await readFile(first.keyPath, 'utf8')).toBe(keyPem);
    expect(await readFile(first.certPath, 'utf8')).toBe(certPem);
  });

  test('an existing key is kept even without its certificate', async () => {
    const keyPath = join(base, 'token.key');
    await writeFile(keyPath, 'operator key');
    expect(await ensureDevKeys(base)).toEqual({ created: false, keyPath, certPath: join(base, 'token.pem') });
    expect(await readFile(keyPath, 'utf8')).toBe('operator key');
    await expect(stat(join(base, 'token.pem'))).rejects.toThrow(/ENOENT/);
  });
});
