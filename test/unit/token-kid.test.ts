import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { describe, expect, test } from 'vitest';
import { libtrustKeyId, registryV3Thumbprint } from '../../src/token/kid.js';

// The key from distribution's docs/spec/auth/jwt.md (docs/registry-compatibility.md "Key IDs").
const JWT_MD_KEY = createPublicKey({
  key: {
    kty: 'EC',
    crv: 'P-256',
    x: 'm7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q',
    y: 'dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc',
  },
  format: 'jwk',
});

/** Generates keys until one has a JWK coordinate that starts with a zero byte (1 in 256 per coordinate). */
function ecKeyWithLeadingZero(namedCurve: string, coordinate: 'x' | 'y'): KeyObject {
  for (let i = 0; i < 20_000; i++) {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve });
    const jwk = publicKey.export({ format: 'jwk' });
    if (Buffer.from(jwk[coordinate]!, 'base64url')[0] === 0) return publicKey;
  }
  throw new Error('no key with a leading zero byte found');
}

describe('libtrustKeyId', () => {
  test('matches the key ID of the jwt.md key', () => {
    expect(JWT_MD_KEY.export({ type: 'spki', format: 'der' }).toString('hex')).toMatch(
      /^3059301306072a8648ce3d020106082a8648ce3d03010703420004/,
    );
    expect(libtrustKeyId(JWT_MD_KEY)).toBe('PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6');
  });

  test('uses the public half of a private key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(libtrustKeyId(privateKey)).toBe(libtrustKeyId(publicKey));
  });

  test.each(['P-256', 'P-384', 'P-521'])('is 12 groups of 4 base32 characters for %s', (namedCurve) => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve });
    expect(libtrustKeyId(publicKey)).toMatch(/^[A-Z2-7]{4}(:[A-Z2-7]{4}){11}$/);
  });

  test('works for RSA keys', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(libtrustKeyId(publicKey)).toMatch(/^[A-Z2-7]{4}(:[A-Z2-7]{4}){11}$/);
  });
});

describe('registryV3Thumbprint', () => {
  test('matches the registry v3.1 util_test.go Ed25519 vector', () => {
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' },
      format: 'jwk',
    });
    expect(registryV3Thumbprint(key)).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  test('equals the RFC 7638 thumbprint for the jwt.md key (no leading zeros)', async () => {
    expect(registryV3Thumbprint(JWT_MD_KEY)).toBe('8qjioA3ZA7ti2JIE7c-U8smBFuZolQZvhSHDPU3hhB8');
    expect(registryV3Thumbprint(JWT_MD_KEY)).toBe(
      await calculateJwkThumbprint(
        JWT_MD_KEY.export({ format: 'jwk' }) as Parameters<typeof calculateJwkThumbprint>[0],
      ),
    );
  });

  test('equals the RFC 7638 thumbprint for RSA keys', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' }) as Parameters<typeof calculateJwkThumbprint>[0];
    expect(registryV3Thumbprint(publicKey)).toBe(await calculateJwkThumbprint(jwk));
  });

  test.each([
    ['P-256', 'x'],
    ['P-256', 'y'],
    ['P-521', 'x'],
  ] as const)(
    'drops a leading zero byte of %s %s like Go big.Int.Bytes(), unlike RFC 7638',
    async (namedCurve, coordinate) => {
      const key = ecKeyWithLeadingZero(namedCurve, coordinate);
      const jwk = key.export({ format: 'jwk' });
      const strip = (b64: string): string => {
        const bytes = Buffer.from(b64, 'base64url');
        let i = 0;
        while (bytes[i] === 0) i++;
        return bytes.subarray(i).toString('base64url');
      };
      // The registry's payload, written out by hand (distribution registry/auth/token/util.go).
      const payload = `{"crv":"${jwk.crv}","kty":"EC","x":"${strip(jwk.x!)}","y":"${strip(jwk.y!)}"}`;
      const expected = createHash('sha256').update(payload).digest('base64url');

      expect(registryV3Thumbprint(key)).toBe(expected);
      expect(registryV3Thumbprint(key)).not.toBe(
        await calculateJwkThumbprint(jwk as Parameters<typeof calculateJwkThumbprint>[0]),
      );
    },
  );

  test('refuses key types the registry has no thumbprint for', () => {
    const { publicKey } = generateKeyPairSync('ed448');
    expect(() => registryV3Thumbprint(publicKey)).toThrow(
      new TypeError('registryV3Thumbprint: unsupported key type ed448'),
    );
  });
});
