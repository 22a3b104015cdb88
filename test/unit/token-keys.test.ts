import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import { generateSigningMaterial, type SigningMaterial } from '../../src/token/generate.js';
import { libtrustKeyId, registryV3Thumbprint } from '../../src/token/kid.js';
import { loadSigningKey, type LoadSigningKeyInput } from '../../src/token/keys.js';
import type { SigningAlg } from '../../src/token/types.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const KEY_PATH = '/etc/regauth/token.key';
const CERT_PATH = '/etc/regauth/token.pem';
const SUPPORTED = 'the registry accepts EC P-256, P-384, P-521 or RSA >= 2048 bits';

const material: Partial<Record<SigningAlg, SigningMaterial>> = {};
let other: SigningMaterial;

beforeAll(async () => {
  for (const alg of ['ES256', 'ES384', 'ES512', 'RS256'] as const) {
    material[alg] = await generateSigningMaterial({
      alg,
      commonName: `regauth ${alg}`,
      validDays: 30,
      now: NOW,
    });
  }
  other = await generateSigningMaterial({ alg: 'ES256', commonName: 'other', validDays: 30, now: NOW });
});

function es256(): SigningMaterial {
  return material.ES256!;
}

function load(overrides: Partial<LoadSigningKeyInput>): ReturnType<typeof loadSigningKey> {
  return loadSigningKey({
    ...es256(),
    keyPath: KEY_PATH,
    certPath: CERT_PATH,
    x5c: true,
    kidFormat: 'libtrust',
    now: NOW,
    ...overrides,
  });
}

/** A key PEM in another encoding of the same key. */
function reencode(keyPem: string, type: 'pkcs8' | 'sec1' | 'pkcs1'): string {
  return createPrivateKey(keyPem).export({ type, format: 'pem' }) as string;
}

describe('loadSigningKey', () => {
  test('a certificate of another key type is refused, and the next key still loads', () => {
    // Node's KeyObject.equals across key types leaves an OpenSSL error behind on the thread,
    // and the next key parsed there failed with it ("different key types").
    const rsa = material.RS256!;
    expect(() => load({ certPem: rsa.certPem })).toThrow(/does not match/);
    expect(load({ keyPem: rsa.keyPem, certPem: rsa.certPem }).alg).toBe('RS256');
  });

  test.each([
    ['ES256', 'pkcs8'],
    ['ES256', 'sec1'],
    ['ES384', 'sec1'],
    ['ES512', 'pkcs8'],
    ['RS256', 'pkcs8'],
    ['RS256', 'pkcs1'],
  ] as const)('loads a %s key in %s PEM', (alg, encoding) => {
    const m = material[alg]!;
    const keyPem = reencode(m.keyPem, encoding);
    expect(keyPem).toMatch(
      {
        pkcs8: /^-----BEGIN PRIVATE KEY-----/,
        sec1: /^-----BEGIN EC PRIVATE KEY-----/,
        pkcs1: /^-----BEGIN RSA PRIVATE KEY-----/,
      }[encoding],
    );
    const key = load({ keyPem, certPem: m.certPem });
    const cert = new X509Certificate(m.certPem);

    expect(key.alg).toBe(alg);
    expect(key.privateKey.type).toBe('private');
    expect(key.publicKey.type).toBe('public');
    expect(key.publicKey.equals(cert.publicKey)).toBe(true);
    expect(key.libtrustKid).toBe(libtrustKeyId(cert.publicKey));
    expect(key.v3Kid).toBe(registryV3Thumbprint(cert.publicKey));
    expect(key.kid).toBe(key.libtrustKid);
    expect(key.x5c).toEqual([cert.raw.toString('base64')]);
    expect(key.certificates.map((c) => c.fingerprint256)).toEqual([cert.fingerprint256]);
    expect(Object.isFrozen(key)).toBe(true);
  });

  test('accepts a SEC1 key preceded by an EC PARAMETERS block (openssl ecparam -genkey)', () => {
    const keyPem = `-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n${reencode(es256().keyPem, 'sec1')}`;
    expect(load({ keyPem }).alg).toBe('ES256');
  });

  test("kidFormat 'thumbprint' (disable_legacy_key_id: true) puts the registry v3 thumbprint in kid", () => {
    const key = load({ kidFormat: 'thumbprint' });
    expect(key.kid).toBe(key.v3Kid);
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test('x5c: false leaves the header chain empty but keeps the parsed certificates', () => {
    const key = load({ x5c: false });
    expect(key.x5c).toEqual([]);
    expect(key.certificates).toHaveLength(1);
  });

  test('x5c is the whole chain in file order, standard base64 DER, other PEM blocks skipped', () => {
    const chain = `${es256().certPem}${es256().keyPem}${other.certPem}`;
    const key = load({ certPem: chain });
    expect(key.x5c).toEqual([
      new X509Certificate(es256().certPem).raw.toString('base64'),
      new X509Certificate(other.certPem).raw.toString('base64'),
    ]);
    for (const der of key.x5c) expect(der).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
  });

  describe('refuses, naming the file and never printing key material', () => {
    const ed25519 = (): string =>
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const rsa1024 = (): string =>
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
        type: 'pkcs1',
        format: 'pem',
      }) as string;
    const secp256k1 = (): string =>
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({
        type: 'sec1',
        format: 'pem',
      }) as string;
    const rsaPss = (): string =>
      generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string;
    const encrypted = (): string =>
      createPrivateKey(es256().keyPem).export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'secret',
      }) as string;
    const garbledBody = (): string =>
      `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(64)}\n-----END PRIVATE KEY-----\n`;

    test.each<[string, () => Partial<LoadSigningKeyInput>, string]>([
      [
        'a certificate for another key',
        () => ({ certPem: other.certPem }),
        `token.certificate ${CERT_PATH} does not match token.key ${KEY_PATH}: the first certificate's public key is not the key's public key`,
      ],
      [
        'a chain whose leaf is not first',
        () => ({ certPem: other.certPem + es256().certPem }),
        `token.certificate ${CERT_PATH} does not match token.key ${KEY_PATH}: the first certificate's public key is not the key's public key`,
      ],
      [
        'RSA 1024',
        () => ({ keyPem: rsa1024() }),
        `token.key ${KEY_PATH}: RSA key of 1024 bits is too short; ${SUPPORTED}`,
      ],
      [
        'Ed25519',
        () => ({ keyPem: ed25519() }),
        `token.key ${KEY_PATH}: unsupported key type ed25519; ${SUPPORTED}`,
      ],
      [
        'P-256K (secp256k1)',
        () => ({ keyPem: secp256k1() }),
        `token.key ${KEY_PATH}: unsupported EC curve secp256k1; ${SUPPORTED}`,
      ],
      [
        'RSA-PSS',
        () => ({ keyPem: rsaPss() }),
        `token.key ${KEY_PATH}: unsupported key type rsa-pss; ${SUPPORTED}`,
      ],
      [
        'garbage instead of PEM',
        () => ({ keyPem: 'not a key\n' }),
        `token.key ${KEY_PATH}: no PEM private key found`,
      ],
      [
        'a PEM block with a garbled body',
        () => ({ keyPem: garbledBody() }),
        `token.key ${KEY_PATH}: cannot parse the PRIVATE KEY PEM block (expected PKCS#8 "PRIVATE KEY", SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY")`,
      ],
      [
        'the certificate given as the key',
        () => ({ keyPem: es256().certPem }),
        `token.key ${KEY_PATH}: no PEM private key found (it holds a certificate: swapped with token.certificate?)`,
      ],
      [
        'an encrypted key',
        () => ({ keyPem: encrypted() }),
        `token.key ${KEY_PATH}: the private key is encrypted; give an unencrypted key`,
      ],
      [
        'no certificate',
        () => ({ certPem: es256().keyPem }),
        `token.certificate ${CERT_PATH}: no PEM CERTIFICATE block found`,
      ],
      [
        'a garbled certificate',
        () => ({
          certPem: `${es256().certPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
        }),
        `token.certificate ${CERT_PATH}: certificate #2 cannot be parsed`,
      ],
      [
        'an expired certificate (x5c)',
        () => ({ now: new Date('2026-04-01T00:00:00Z') }),
        `token.certificate ${CERT_PATH}: certificate #1 (CN=regauth ES256) expired at 2026-03-31T12:00:00.000Z; the registry would reject the x5c chain`,
      ],
      [
        'a not yet valid certificate (x5c)',
        () => ({ now: new Date('2026-03-01T11:54:59Z') }),
        `token.certificate ${CERT_PATH}: certificate #1 (CN=regauth ES256) is not valid before 2026-03-01T11:55:00.000Z; the registry would reject the x5c chain`,
      ],
    ])('%s', (_name, overrides, message) => {
      const input = overrides();
      let error: unknown;
      try {
        load(input);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(RegauthError);
      expect((error as RegauthError).code).toBe('ERR_KEY');
      expect((error as RegauthError).message).toBe(message);
      // No line of any PEM body (key or certificate) leaks into the message.
      const pems = `${input.keyPem ?? es256().keyPem}\n${input.certPem ?? es256().certPem}`;
      for (const line of pems.split('\n').filter((l) => l.length > 8 && !l.startsWith('-----'))) {
        expect((error as Error).message).not.toContain(line);
      }
    });
  });

  test('without paths, errors name the config keys only', () => {
    expect(() =>
      loadSigningKey({
        keyPem: es256().keyPem,
        certPem: other.certPem,
        x5c: true,
        kidFormat: 'libtrust',
        now: NOW,
      }),
    ).toThrow(
      "token.certificate does not match token.key: the first certificate's public key is not the key's public key",
    );
  });

  test('certificate dates are not checked without x5c (kid lookups ignore them)', () => {
    expect(load({ x5c: false, now: new Date('2030-01-01T00:00:00Z') }).alg).toBe('ES256');
  });
});
