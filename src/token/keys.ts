import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { RsaSaPssParams } from '@peculiar/asn1-rsa';
import { AlgorithmIdentifier, Certificate, GeneralName, NameConstraints } from '@peculiar/asn1-x509';
import { RegauthError } from '../core/errors.js';
import { libtrustKeyId, registryV3Thumbprint } from './kid.js';
import type { SigningAlg, SigningKey } from './types.js';

/** Which key ID goes in the JWT `kid` header. */
export type KidFormat =
  /** libtrust key ID, what registry v2.8 looks up (docker_auth `disable_legacy_key_id: false`, the default). */
  | 'libtrust'
  /** registry v3 thumbprint (docker_auth `disable_legacy_key_id: true`). */
  | 'thumbprint';

export interface LoadSigningKeyInput {
  /** PEM private key: PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`). */
  readonly keyPem: string;
  /** PEM certificate chain, leaf first; non-CERTIFICATE blocks are skipped, as the registry does. */
  readonly certPem: string;
  /** Where keyPem came from, for error messages. */
  readonly keyPath?: string;
  /** Where certPem came from, for error messages. */
  readonly certPath?: string;
  /** Put the chain in the `x5c` header (config `token.x5c`). */
  readonly x5c: boolean;
  /** `kid` header format (config `token.disable_legacy_key_id`: false → libtrust, true → thumbprint). */
  readonly kidFormat: KidFormat;
  /** Clock for the certificate validity check; defaults to the current time. */
  readonly now?: Date;
}

const EC_CURVES: Readonly<Record<string, SigningAlg>> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};

const MIN_RSA_BITS = 2048;
const SUPPORTED = 'the registry accepts EC P-256, P-384, P-521 or RSA >= 2048 bits';

/**
 * Whether two keys are the same key. Keys of different types are told apart before
 * `KeyObject.equals` is asked: across key types node's comparison leaves an OpenSSL error behind
 * on the thread, and the next key node parses there fails with it ("different key types").
 */
export function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.asymmetricKeyType === b.asymmetricKeyType && a.equals(b);
}

/**
 * Imports the token signing key and its certificate chain once, at config load.
 *
 * Throws RegauthError `ERR_KEY` naming the file when the key cannot be parsed or is of a type the
 * registry cannot verify (docs/registry-compatibility.md "Signing keys"), when the leaf certificate
 * is not for this key, or (with x5c) when a certificate of the chain is outside its validity dates:
 * the registry verifies x5c chains with Go's x509.Verify, which checks them
 * (docs/registry-compatibility.md "x5c chains"; distribution's registry/auth/token/token.go).
 * Messages never contain key material.
 */
export function loadSigningKey(input: LoadSigningKeyInput): SigningKey {
  const keyName = where('token.key', input.keyPath);
  const certName = where('token.certificate', input.certPath);

  const privateKey = parsePrivateKey(input.keyPem, keyName);
  const alg = signingAlg(privateKey, keyName);
  const publicKey = createPublicKey(privateKey);

  const certificates = parseCertificates(input.certPem, certName);
  const leaf = certificates[0]!;
  if (!sameKey(leaf.publicKey, publicKey)) {
    throw new RegauthError(
      'ERR_KEY',
      `${certName} does not match ${keyName}: the first certificate's public key is not the key's public key`,
    );
  }
  if (input.x5c) {
    checkValidity(certificates, certName, input.now ?? new Date());
    checkSignatureHashes(certificates, certName);
    checkCriticalExtensions(certificates, certName);
  }

  const libtrustKid = libtrustKeyId(publicKey);
  const v3Kid = registryV3Thumbprint(publicKey);
  return Object.freeze({
    alg,
    privateKey,
    publicKey,
    kid: input.kidFormat === 'thumbprint' ? v3Kid : libtrustKid,
    libtrustKid,
    v3Kid,
    x5c: input.x5c ? Object.freeze(certificates.map((c) => c.raw.toString('base64'))) : Object.freeze([]),
    certificates: Object.freeze(certificates),
  });
}

function where(name: string, path: string | undefined): string {
  return path ? `${name} ${path}` : name;
}

const PRIVATE_KEY_BLOCK = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?-----END \1-----/;

function parsePrivateKey(pem: string, name: string): KeyObject {
  const block = PRIVATE_KEY_BLOCK.exec(pem);
  if (!block) {
    const hint = pem.includes('-----BEGIN CERTIFICATE-----')
      ? ' (it holds a certificate: swapped with token.certificate?)'
      : '';
    throw new RegauthError('ERR_KEY', `${name}: no PEM private key found${hint}`);
  }
  if (block[1] === 'ENCRYPTED PRIVATE KEY' || block[0].includes('Proc-Type: 4,ENCRYPTED')) {
    throw new RegauthError('ERR_KEY', `${name}: the private key is encrypted; give an unencrypted key`);
  }
  try {
    return createPrivateKey({ key: block[0], format: 'pem' });
  } catch (err) {
    // The cause is an OpenSSL decoder error: it names no key material.
    throw new RegauthError(
      'ERR_KEY',
      `${name}: cannot parse the ${block[1]} PEM block (expected PKCS#8 "PRIVATE KEY", SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY")`,
      { cause: err },
    );
  }
}

/**
 * The JWS algorithm regauth signs with for a key (a private key, or the public key of its
 * certificate): ES256/384/512 by the curve, RS256 for RSA. Throws for a key it cannot sign with.
 */
export function signingAlg(key: KeyObject, name: string): SigningAlg {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    const alg = details.namedCurve ? EC_CURVES[details.namedCurve] : undefined;
    if (alg) return alg;
    throw new RegauthError(
      'ERR_KEY',
      `${name}: unsupported EC curve ${details.namedCurve ?? 'unknown'}; ${SUPPORTED}`,
    );
  }
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) {
      throw new RegauthError('ERR_KEY', `${name}: RSA key of ${bits} bits is too short; ${SUPPORTED}`);
    }
    // Go's crypto/rsa verifies with no larger exponent (the registry would refuse every token).
    const exponent = details.publicExponent ?? 0n;
    if (exponent < 3n || exponent > MAX_RSA_EXPONENT) {
      throw new RegauthError(
        'ERR_KEY',
        `${name}: RSA public exponent ${exponent} is out of the range the registry accepts (3 to 2^31 - 1; 65537 is usual); ${SUPPORTED}`,
      );
    }
    return 'RS256';
  }
  // rsa-pss keys are refused too: they cannot make the PKCS#1 v1.5 signatures RS256 needs.
  throw new RegauthError('ERR_KEY', `${name}: unsupported key type ${type ?? 'unknown'}; ${SUPPORTED}`);
}

const MAX_RSA_EXPONENT = 2n ** 31n - 1n;

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The CERTIFICATE blocks of a PEM text, one per line group, and nothing else: a certificate file
 * may hold its private key too (a combined PEM), which must never reach a file the registry or
 * anyone else is given.
 */
export function certificateBlocks(pem: string): string {
  return certificatePems(pem)
    .map((block) => `${block}\n`)
    .join('');
}

/** Does a PEM text hold a private key block (PKCS#8, SEC1 or PKCS#1, encrypted or not)? */
export function holdsPrivateKey(pem: string): boolean {
  return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem);
}

/**
 * The SHA-256 fingerprint of each certificate of a PEM text that parses, in order: the same
 * certificate compares equal however the file was saved (line ends, spaces).
 */
export function certificateFingerprints(pem: string): string[] {
  return readableCertificates(pem).map((c) => c.fingerprint256);
}

/**
 * One certificate, read whole, as the checks here and the registry (Go's strict DER) read it:
 * OpenSSL parses some encodings leniently and then cannot decode the key (`publicKey` throws), or
 * the ASN.1 reader refuses them. Throws when any of that fails.
 */
export function readCertificate(pem: string): X509Certificate {
  const cert = new X509Certificate(pem);
  void cert.publicKey;
  AsnConvert.parse(cert.raw, Certificate);
  return cert;
}

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';

/**
 * What Go's crypto/x509 (the registry) cannot parse in a certificate's public key, or undefined:
 * it reads an EC key only by a named curve and as an uncompressed point, where OpenSSL also takes
 * explicit curve parameters (`openssl ecparam -param_enc explicit`) and a compressed point
 * (`openssl ec -conv_form compressed`, which `openssl req` keeps in the certificate).
 */
export function goUnreadableKey(cert: X509Certificate): string | undefined {
  const spki = AsnConvert.parse(cert.raw, Certificate).tbsCertificate.subjectPublicKeyInfo;
  // The ASN.1 reader gives a NULL as null, and no parameters as undefined.
  const read = spki.algorithm.parameters;
  const parameters = read ? Buffer.from(read).toString('hex') : read === null ? '0500' : undefined;
  if (spki.algorithm.algorithm === RSA_ENCRYPTION) {
    // Go requires the NULL parameters ("x509: RSA key missing NULL parameters").
    return parameters === '0500' ? undefined : 'an RSA public key without the NULL parameters';
  }
  if (spki.algorithm.algorithm !== EC_PUBLIC_KEY) return undefined;
  // A named curve is its OID (tag 6); explicit parameters are a SEQUENCE.
  if (!parameters?.startsWith('06')) return 'an EC public key with explicit curve parameters';
  if (!GO_CURVES.has(parameters))
    return 'an EC public key on a curve Go does not know (it knows P-224, P-256, P-384, P-521)';
  if (new Uint8Array(spki.subjectPublicKey)[0] !== 0x04)
    return 'an EC public key written as a compressed point';
  return undefined;
}

const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';

/** The named curves Go's crypto/x509 parses, as their DER-encoded OIDs: P-224, P-256, P-384, P-521. */
const GO_CURVES = new Set(['06052b81040021', '06082a8648ce3d030107', '06052b81040022', '06052b81040023']);

/** The certificates of a PEM text that read whole (readCertificate), in order (others are left out). */
export function readableCertificates(pem: string): X509Certificate[] {
  return certificatePems(pem).flatMap((block) => {
    try {
      return [readCertificate(block)];
    } catch {
      return [];
    }
  });
}

/** Each CERTIFICATE block of a PEM text, in order. */
export function certificatePems(pem: string): string[] {
  return pem.match(CERTIFICATE_BLOCK) ?? [];
}

function parseCertificates(pem: string, name: string): X509Certificate[] {
  const blocks = certificatePems(pem);
  if (blocks.length === 0) throw new RegauthError('ERR_KEY', `${name}: no PEM CERTIFICATE block found`);
  return blocks.map((block, i) => {
    let cert: X509Certificate;
    try {
      cert = readCertificate(block);
    } catch (err) {
      throw new RegauthError('ERR_KEY', `${name}: certificate #${i + 1} cannot be parsed`, { cause: err });
    }
    const problem = goUnreadableKey(cert);
    if (problem) {
      throw new RegauthError(
        'ERR_KEY',
        `${name}: certificate #${i + 1} has ${problem}, which the registry (Go's crypto/x509) cannot parse; make the key and its certificate again (\`regauth keys init\`, or for EC \`openssl ecparam -name prime256v1 -genkey -noout\`)`,
      );
    }
    return cert;
  });
}

/**
 * The signature algorithms Go's crypto/x509 verifies in a chain, by OID: RSA PKCS#1 v1.5 and
 * ECDSA with SHA-256/384/512, and Ed25519 (RSASSA-PSS: see pssAcceptable). SHA-1 and MD5 are
 * refused there (since Go 1.18), and so is anything not listed.
 */
const GO_SIGNATURES = new Set([
  '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13', // sha512WithRSAEncryption
  '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3', // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4', // ecdsa-with-SHA512
  '1.3.101.112', // Ed25519
]);
const RSASSA_PSS = '1.2.840.113549.1.1.10';
const MGF1 = '1.2.840.113549.1.1.8';
/** SHA-256/384/512 and their output lengths: Go takes PSS only with these, MGF1 with the same hash, salt = hash length. */
const PSS_HASHES: Readonly<Record<string, number>> = {
  '2.16.840.1.101.3.4.2.1': 32,
  '2.16.840.1.101.3.4.2.2': 48,
  '2.16.840.1.101.3.4.2.3': 64,
};
/** Names for the refusal message. */
const SIGNATURE_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.3.14.3.2.29': 'sha1WithRSASignature',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
  [RSASSA_PSS]:
    'RSASSA-PSS with parameters other than SHA-256/384/512, MGF1 of the same hash and a salt of the hash length',
};

/**
 * The extensions Go's crypto/x509 handles when marked critical: a certificate in the x5c chain
 * with any other critical one fails the registry's Verify ("unhandled critical extension"). The
 * key identifiers and authority information access must not be critical at all (RFC 5280): Go
 * refuses to parse such a certificate. Either way every token signed with x5c would fail.
 */
const GO_CRITICAL_EXTENSIONS = new Set([
  '2.5.29.15', // key usage
  '2.5.29.17', // subject alternative name
  '2.5.29.19', // basic constraints
  '2.5.29.30', // name constraints
  '2.5.29.31', // CRL distribution points
  '2.5.29.32', // certificate policies
  '2.5.29.37', // extended key usage
  // CA policy extensions, which RFC 5280 has CAs mark critical: the Go of registry 3 handles
  // them; registry 2.8's older Go does not, and refuses such a chain (docs/registry-compatibility.md).
  '2.5.29.33', // policy mappings
  '2.5.29.36', // policy constraints
  '2.5.29.54', // inhibit any policy
]);

function checkCriticalExtensions(certificates: readonly X509Certificate[], name: string): void {
  certificates.forEach((cert, i) => {
    const refuse = (has: string, goDoes: string, advice: string) =>
      new RegauthError(
        'ERR_KEY',
        `${name}: ${described(cert, i)} has ${has}, which the registry (Go's crypto/x509) ${goDoes}, and so refuses every token signed with x5c; ${advice} or use x5c: false`,
      );
    const extensions = AsnConvert.parse(cert.raw, Certificate).tbsCertificate.extensions ?? [];
    const seen = new Set<string>();
    for (const e of extensions) {
      if (seen.has(e.extnID)) {
        throw refuse(`the extension ${e.extnID} twice`, 'does not accept', 'reissue the certificate');
      }
      seen.add(e.extnID);
      const read = goReads(e.extnID, e.extnValue.buffer);
      if (read === 'malformed') {
        throw refuse(`a malformed extension ${e.extnID}`, 'cannot parse', 'reissue the certificate');
      }
      if (e.critical && (!GO_CRITICAL_EXTENSIONS.has(e.extnID) || !read)) {
        throw refuse(`the extension ${e.extnID} marked critical`, 'does not accept', 'remove the mark');
      }
    }
  });
}

/**
 * Whether Go handles a subject alternative name or name constraints extension when critical:
 * only when the SAN holds a name of a kind it reads (DNS, email, IP, URI; one with only a
 * directory name or another name is left unhandled), and when every name constraint is of those
 * kinds. `malformed`: Go refuses the certificate whatever the mark (a SAN that is no sequence of
 * names, or name constraints with no subtree at all). What cannot be read here is taken as Go
 * reading it: regauth does not refuse a certificate it cannot judge.
 */
function goReads(id: string, value: ArrayBuffer): boolean | 'malformed' {
  if (id === SUBJECT_ALT_NAME) {
    const kinds = nameKinds(new Uint8Array(value));
    return kinds === undefined ? 'malformed' : kinds.some((kind) => GO_NAME_KINDS.has(kind));
  }
  if (id === NAME_CONSTRAINTS) {
    let subtrees;
    try {
      const { permittedSubtrees, excludedSubtrees } = AsnConvert.parse(value, NameConstraints);
      subtrees = [...(permittedSubtrees ?? []), ...(excludedSubtrees ?? [])];
    } catch {
      return true;
    }
    return subtrees.length === 0 ? 'malformed' : subtrees.every((t) => readByGo(t.base));
  }
  return true;
}

const SUBJECT_ALT_NAME = '2.5.29.17';
const NAME_CONSTRAINTS = '2.5.29.30';

/** The GeneralName kinds (context tags) Go reads: rfc822Name, dNSName, URI, iPAddress. */
const GO_NAME_KINDS = new Set([1, 2, 6, 7]);

function readByGo(name: GeneralName): boolean {
  return (
    name.dNSName !== undefined ||
    name.rfc822Name !== undefined ||
    name.iPAddress !== undefined ||
    name.uniformResourceIdentifier !== undefined
  );
}

/**
 * The kinds (context tag numbers) of a GeneralNames sequence, read as Go reads it: one DER value
 * after the other, each kind whatever its content (an EDI party name or an X.400 address too);
 * undefined when the bytes are no such sequence.
 */
function nameKinds(der: Uint8Array): number[] | undefined {
  const outer = derValue(der, 0);
  if (!outer || outer.tag !== 0x30 || outer.end !== der.length) return undefined;
  const kinds: number[] = [];
  for (let at = outer.start; at < outer.end;) {
    const entry = derValue(der, at);
    if (!entry || entry.end > outer.end || (entry.tag & 0xc0) !== 0x80) return undefined;
    kinds.push(entry.tag & 0x1f);
    at = entry.end;
  }
  return kinds;
}

/** One DER value at `at`: its tag byte and where its content starts and ends; undefined if cut. */
function derValue(der: Uint8Array, at: number): { tag: number; start: number; end: number } | undefined {
  if (at + 2 > der.length) return undefined;
  const tag = der[at]!;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 3 || start + bytes > der.length) return undefined;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  const end = start + length;
  return end <= der.length ? { tag, start, end } : undefined;
}

function pssAcceptable(parameters: ArrayBuffer | undefined): boolean {
  if (!parameters) return false;
  try {
    const pss = AsnConvert.parse(parameters, RsaSaPssParams);
    const hash = pss.hashAlgorithm.algorithm;
    const length = PSS_HASHES[hash];
    if (length === undefined || pss.saltLength !== length) return false;
    if (pss.maskGenAlgorithm.algorithm !== MGF1 || !pss.maskGenAlgorithm.parameters) return false;
    return AsnConvert.parse(pss.maskGenAlgorithm.parameters, AlgorithmIdentifier).algorithm === hash;
  } catch {
    return false;
  }
}

/**
 * The registry verifies the x5c chain with Go's crypto/x509, which refuses SHA-1 and MD5
 * signatures and algorithms it does not implement: a certificate signed that way by another makes
 * every token fail, so it is refused at load. A self-signed certificate's own signature is never
 * checked (it is trusted as it is, from the bundle).
 */
function checkSignatureHashes(certificates: readonly X509Certificate[], name: string): void {
  certificates.forEach((cert, i) => {
    // Self-signed: its own key made its signature (key usage aside, which checkIssued would weigh).
    if (cert.subject === cert.issuer && cert.verify(cert.publicKey)) return;
    const { algorithm, parameters } = AsnConvert.parse(cert.raw, Certificate).signatureAlgorithm;
    if (GO_SIGNATURES.has(algorithm) || (algorithm === RSASSA_PSS && pssAcceptable(parameters ?? undefined)))
      return;
    const what =
      SIGNATURE_NAMES[algorithm] ?? `an algorithm the registry does not implement (OID ${algorithm})`;
    throw new RegauthError(
      'ERR_KEY',
      `${name}: ${described(cert, i)} is signed with ${what}, which the registry refuses (Go's x509): reissue it with SHA-256 or better (RSA, ECDSA or Ed25519)`,
    );
  });
}

/** `certificate #N (its subject)`; node gives no subject for an empty one (RFC 5280 allows it). */
function described(cert: X509Certificate, i: number): string {
  const subject = (cert.subject as string | undefined)?.replace(/\n/g, ', ');
  return `certificate #${i + 1}${subject ? ` (${subject})` : ' (no subject)'}`;
}

function checkValidity(certificates: readonly X509Certificate[], name: string, now: Date): void {
  certificates.forEach((cert, i) => {
    const which = described(cert, i);
    const notBefore = new Date(cert.validFrom);
    const notAfter = new Date(cert.validTo);
    if (now < notBefore) {
      throw new RegauthError(
        'ERR_KEY',
        `${name}: ${which} is not valid before ${notBefore.toISOString()}; the registry would reject the x5c chain`,
      );
    }
    if (now > notAfter) {
      throw new RegauthError(
        'ERR_KEY',
        `${name}: ${which} expired at ${notAfter.toISOString()}; the registry would reject the x5c chain`,
      );
    }
  });
}
