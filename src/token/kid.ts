import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/**
 * The libtrust key ID that registry v2.8 uses for `kid` lookups (docs/registry-compatibility.md
 * "Key IDs"; libtrust's util.go keyIDFromCryptoKey):
 * SHA-256 of the DER SubjectPublicKeyInfo, first 30 bytes, RFC 4648 base32 without
 * padding (48 characters), cut into 12 groups of 4 joined by `:`.
 *
 * Accepts a public key, or a private key whose public half is used.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = uncompressed(toPublic(publicKey)).export({ type: 'spki', format: 'der' });
  const digest = createHash('sha256').update(der).digest().subarray(0, 30);
  // 30 bytes are exactly 48 base32 characters: 12 full groups of 4.
  return (base32(digest).match(/.{4}/g) ?? []).join(':');
}

/**
 * The key ID registry v3.1 gives a rootcertbundle key (`GetJWKThumbprint` in distribution's
 * registry/auth/token/util.go; docs/registry-compatibility.md "Key IDs"):
 * base64url(SHA-256(payload)) with a hand-built JSON payload.
 *
 * It is RFC 7638 except that EC coordinates and RSA numbers are Go `big.Int.Bytes()`, which
 * drops leading zero bytes; RFC 7638 pads EC x/y to the coordinate size. So for an EC key whose
 * x or y starts with a zero byte (about 1 in 128 P-256 keys, 1 in 2 P-521 keys) a standard
 * thumbprint (jose `calculateJwkThumbprint`) does not match what the registry looks up.
 *
 * Supports EC P-256/P-384/P-521, RSA and Ed25519 (v3.1.0+; we never sign with it, but the
 * registry's test vector uses it). Other key types throw a TypeError.
 */
export function registryV3Thumbprint(publicKey: KeyObject): string {
  const pub = toPublic(publicKey);
  const jwk = pub.export({ format: 'jwk' });
  let payload: string;
  switch (pub.asymmetricKeyType) {
    case 'ec':
      payload = `{"crv":"${jwkField(jwk, 'crv')}","kty":"EC","x":"${goBigIntBytes(jwk, 'x')}","y":"${goBigIntBytes(jwk, 'y')}"}`;
      break;
    case 'rsa':
      payload = `{"e":"${goBigIntBytes(jwk, 'e')}","kty":"RSA","n":"${goBigIntBytes(jwk, 'n')}"}`;
      break;
    case 'ed25519':
      // An ed25519.PublicKey is a plain byte slice: encoded as is, no zero stripping.
      payload = `{"crv":"Ed25519","kty":"OKP","x":"${jwkField(jwk, 'x')}"}`;
      break;
    default:
      throw new TypeError(`registryV3Thumbprint: unsupported key type ${String(pub.asymmetricKeyType)}`);
  }
  return createHash('sha256').update(payload).digest('base64url');
}

/**
 * An EC key with its point uncompressed, as Go marshals every SubjectPublicKeyInfo: node keeps
 * the form the key was stored in (`openssl ec -conv_form compressed` writes the short one), and a
 * compressed SPKI hashes to another key ID than the one the registry computes.
 */
function uncompressed(key: KeyObject): KeyObject {
  return key.asymmetricKeyType === 'ec'
    ? createPublicKey({ key: key.export({ format: 'jwk' }), format: 'jwk' })
    : key;
}

function toPublic(key: KeyObject): KeyObject {
  if (key.type === 'public') return key;
  if (key.type === 'private') return createPublicKey(key);
  throw new TypeError('expected an asymmetric key, got a secret key');
}

function jwkField(jwk: JsonWebKey, name: 'crv' | 'x' | 'y' | 'n' | 'e'): string {
  const value = jwk[name];
  if (typeof value !== 'string') throw new TypeError(`public key JWK has no "${name}"`);
  return value;
}

/** A JWK number re-encoded as Go's `base64.RawURLEncoding.EncodeToString(bigInt.Bytes())`. */
function goBigIntBytes(jwk: JsonWebKey, name: 'x' | 'y' | 'n' | 'e'): string {
  const bytes = Buffer.from(jwkField(jwk, name), 'base64url');
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  return bytes.subarray(start).toString('base64url');
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (standard alphabet) without `=` padding; Node has no built-in encoder. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}
