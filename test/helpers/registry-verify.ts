/**
 * A test-only re-implementation of the token check of registry v2.8.3 (`registry:2`):
 * registry/auth/token/token.go + accesscontroller.go and the vendored libtrust (see
 * docs/registry-compatibility.md "How the registry finds the key"). It lets unit tests assert "the
 * registry would accept this token" without starting a registry; the e2e suite checks the same
 * against the real one.
 *
 * Deliberately strict where the registry is strict (aud must be a string, integer times, alg must
 * match the curve, raw R||S of the exact size, x5c chained to the bundle with validity dates) and
 * lenient where it is lenient (typ, iat and jti unchecked, padded base64url accepted).
 */
import { X509Certificate, verify, type KeyObject } from 'node:crypto';
import { libtrustKeyId } from '../../src/token/kid.js';

/** Why the registry refused a token; `malformed` and `invalid` both give `error="invalid_token"`. */
export class RegistryVerifyError extends Error {
  readonly kind: 'malformed' | 'invalid';
  constructor(kind: 'malformed' | 'invalid', message: string) {
    super(message);
    this.kind = kind;
    this.name = 'RegistryVerifyError';
  }
}

export interface RegistryAccessEntry {
  type: string;
  class?: string;
  name: string;
  actions: string[];
}

export interface RegistryClaims {
  iss?: string;
  sub?: string;
  aud?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  access?: RegistryAccessEntry[];
}

export interface RegistryHeader {
  alg?: string;
  typ?: string;
  kid?: string;
  x5c?: string[];
  jwk?: unknown;
}

export interface Registry28Options {
  /** `auth.token.issuer` */
  readonly issuer: string;
  /** `auth.token.service` */
  readonly service: string;
  /** Contents of `auth.token.rootcertbundle`. */
  readonly rootCertBundle: string;
  /**
   * The registry's clock in **milliseconds** (like Date.now). Go compares `time.Now()` (with
   * sub-second precision) to whole-second exp/nbf, so the leeway boundaries depend on where in the
   * second the check happens; freeze it mid-second to reproduce distribution's TestLeeway.
   */
  readonly now: () => number;
}

/** Leeway on exp and nbf, token.go `Leeway = 60 * time.Second`. */
const LEEWAY_MS = 60_000;

const EC_ALGS: Readonly<Record<string, { alg: string; size: number; hash: string }>> = {
  prime256v1: { alg: 'ES256', size: 32, hash: 'sha256' },
  secp384r1: { alg: 'ES384', size: 48, hash: 'sha384' },
  secp521r1: { alg: 'ES512', size: 66, hash: 'sha512' },
};
const RSA_HASHES: Readonly<Record<string, string>> = { RS256: 'sha256', RS384: 'sha384', RS512: 'sha512' };

/**
 * Builds the verifier from the registry config, failing as the registry does at startup when the
 * bundle holds no certificate or a key type libtrust cannot use.
 */
export function createRegistry28Verifier(
  opts: Registry28Options,
): (token: string) => { header: RegistryHeader; claims: RegistryClaims } {
  const roots = (
    opts.rootCertBundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
  ).map((pem) => new X509Certificate(pem));
  if (roots.length === 0) throw new Error('token auth requires at least one token signing root certificate');
  const trustedKeys = new Map<string, KeyObject>();
  for (const root of roots) {
    const type = root.publicKey.asymmetricKeyType;
    if (type !== 'ec' && type !== 'rsa')
      throw new Error(`unable to get token signing key: unsupported key type ${type}`);
    trustedKeys.set(libtrustKeyId(root.publicKey), root.publicKey);
  }

  return (raw) => {
    // token.go NewToken
    const parts = raw.split('.');
    if (parts.length !== 3) throw new RegistryVerifyError('malformed', 'token does not have 3 parts');
    const [rawHeader, rawClaims, rawSignature] = parts as [string, string, string];
    const headerText = joseBase64UrlDecode(rawHeader).toString('utf8');
    const claimsText = joseBase64UrlDecode(rawClaims).toString('utf8');
    const signature = joseBase64UrlDecode(rawSignature);
    const header = parseHeader(headerText);
    const claims = parseClaims(claimsText);

    // token.go Verify, in its order.
    if (claims.iss !== opts.issuer) throw new RegistryVerifyError('invalid', 'token from untrusted issuer');
    if (claims.aud !== opts.service)
      throw new RegistryVerifyError('invalid', 'token intended for another audience');
    const now = opts.now();
    // time.Now().After(exp + leeway); a missing exp is 0, so expired.
    if (now > (claims.exp ?? 0) * 1000 + LEEWAY_MS)
      throw new RegistryVerifyError('invalid', 'token has expired');
    // time.Now().Before(nbf - leeway)
    if (now < (claims.nbf ?? 0) * 1000 - LEEWAY_MS)
      throw new RegistryVerifyError('invalid', 'token used before time');
    if (signature.length === 0) throw new RegistryVerifyError('invalid', 'token has no signature');

    const key = signingKey(header, roots, trustedKeys, now);
    checkSignature(key, header.alg ?? '', Buffer.from(`${rawHeader}.${rawClaims}`), signature);
    return { header, claims };
  };
}

/** util.go joseBase64UrlDecode: padding added if missing, `len % 4 == 1` fails, URL alphabet only. */
function joseBase64UrlDecode(s: string): Buffer {
  const padded = s.length % 4 === 2 ? `${s}==` : s.length % 4 === 3 ? `${s}=` : s;
  if (padded.length % 4 !== 0 || !/^[A-Za-z0-9_-]*={0,2}$/.test(padded)) {
    throw new RegistryVerifyError('malformed', 'illegal base64url string');
  }
  return Buffer.from(padded, 'base64url');
}

function parseJson(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RegistryVerifyError('malformed', 'unable to decode JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RegistryVerifyError('malformed', 'JSON is not an object');
  }
  return value as Record<string, unknown>;
}

function optional(obj: Record<string, unknown>, name: string, check: (v: unknown) => boolean): void {
  const v = obj[name];
  // Go's encoding/json leaves a field at its zero value for null.
  if (v !== undefined && v !== null && !check(v)) {
    throw new RegistryVerifyError('malformed', `cannot unmarshal "${name}"`);
  }
}

const isString = (v: unknown): boolean => typeof v === 'string';
const isStringArray = (v: unknown): boolean => Array.isArray(v) && v.every(isString);

function parseHeader(text: string): RegistryHeader {
  const h = parseJson(text);
  for (const name of ['typ', 'alg', 'kid']) optional(h, name, isString);
  optional(h, 'x5c', isStringArray);
  return h as RegistryHeader;
}

function parseClaims(text: string): RegistryClaims {
  const c = parseJson(text);
  for (const name of ['iss', 'sub', 'jti']) optional(c, name, isString);
  // `aud` is a plain string in v2.8's ClaimSet: a JSON array fails to unmarshal.
  optional(c, 'aud', isString);
  for (const name of ['exp', 'nbf', 'iat']) {
    // int64: floats (even 1.0 or 1e3) and strings fail to unmarshal; JSON.parse cannot tell 1.0
    // from 1, so look at the literal too.
    optional(
      c,
      name,
      (v) => Number.isSafeInteger(v) && new RegExp(`"${name}":\\s*-?\\d+\\s*[,}]`).test(text),
    );
  }
  optional(
    c,
    'access',
    (v) =>
      Array.isArray(v) &&
      v.every((e: unknown) => {
        if (typeof e !== 'object' || e === null) return false;
        const entry = e as Record<string, unknown>;
        return (
          ['type', 'class', 'name'].every((k) => entry[k] === undefined || isString(entry[k])) &&
          (entry.actions === undefined || entry.actions === null || isStringArray(entry.actions))
        );
      }),
  );
  return c as RegistryClaims;
}

/** token.go VerifySigningKey: x5c first, then jwk, then kid. */
function signingKey(
  header: RegistryHeader,
  roots: readonly X509Certificate[],
  trustedKeys: ReadonlyMap<string, KeyObject>,
  now: number,
): KeyObject {
  if (header.x5c && header.x5c.length > 0) return verifyCertChain(header.x5c, roots, now);
  if (header.jwk !== undefined && header.jwk !== null) {
    throw new Error('test verifier: embedded jwk headers are not implemented (regauth never sends one)');
  }
  if (header.kid) {
    const key = trustedKeys.get(header.kid);
    if (!key)
      throw new RegistryVerifyError('invalid', `token signed by untrusted key with ID: "${header.kid}"`);
    return key;
  }
  throw new RegistryVerifyError('invalid', 'unable to get token signing key');
}

/**
 * token.go parseAndVerifyCertChain: x5c[0] is the leaf, the rest intermediates, verified by Go's
 * x509.Verify against the bundle with ExtKeyUsageAny. So: every certificate in the chain (root
 * included) must be within its dates; intermediates must be CAs; a leaf that is itself in the
 * bundle is accepted on its own.
 */
function verifyCertChain(x5c: readonly string[], roots: readonly X509Certificate[], now: number): KeyObject {
  const certs = x5c.map((b64) => {
    // base64.StdEncoding: standard alphabet, padding required.
    if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
      throw new RegistryVerifyError('invalid', 'unable to decode x5c certificate');
    }
    try {
      return new X509Certificate(Buffer.from(b64, 'base64'));
    } catch {
      throw new RegistryVerifyError('invalid', 'unable to parse x5c certificate');
    }
  });
  const [leaf, ...intermediates] = certs as [X509Certificate, ...X509Certificate[]];
  checkDates(leaf, now);
  if (buildChain(leaf, intermediates, roots, now, 0)) return leaf.publicKey;
  throw new RegistryVerifyError(
    'invalid',
    'unable to verify certificate chain: x509: certificate signed by unknown authority',
  );
}

function buildChain(
  cert: X509Certificate,
  intermediates: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  now: number,
  depth: number,
): boolean {
  if (depth > 8) return false;
  if (roots.some((r) => r.raw.equals(cert.raw))) return true;
  const issuedBy = (parent: X509Certificate): boolean =>
    cert.checkIssued(parent) && cert.verify(parent.publicKey);
  for (const root of roots) {
    if (issuedBy(root) && withinDates(root, now)) return true;
  }
  for (const parent of intermediates) {
    if (parent.raw.equals(cert.raw) || !parent.ca || !withinDates(parent, now) || !issuedBy(parent)) continue;
    if (buildChain(parent, intermediates, roots, now, depth + 1)) return true;
  }
  return false;
}

function withinDates(cert: X509Certificate, now: number): boolean {
  return now >= Date.parse(cert.validFrom) && now <= Date.parse(cert.validTo);
}

function checkDates(cert: X509Certificate, now: number): void {
  if (!withinDates(cert, now)) {
    throw new RegistryVerifyError(
      'invalid',
      'unable to verify certificate chain: x509: certificate has expired or is not yet valid',
    );
  }
}

/** libtrust Verify: the alg must fit the key (EC: the curve's one alg), EC signatures are raw R||S. */
function checkSignature(key: KeyObject, alg: string, signingInput: Buffer, signature: Buffer): void {
  const bad = (why: string): RegistryVerifyError =>
    new RegistryVerifyError('invalid', `invalid token signature: ${why}`);
  if (key.asymmetricKeyType === 'ec') {
    const curve = EC_ALGS[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!curve) throw bad('unsupported curve');
    if (alg !== curve.alg)
      throw bad(`unable to verify Signature: algorithm ${alg} does not match the key's curve`);
    if (signature.length !== 2 * curve.size) throw bad('signature length is incorrect');
    if (!verify(curve.hash, signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature)) throw bad('ecdsa');
    return;
  }
  const hash = RSA_HASHES[alg];
  if (!hash) throw bad(`unsupported RSA algorithm ${alg}`);
  if (!verify(hash, signingInput, key, signature)) throw bad('rsa');
}
