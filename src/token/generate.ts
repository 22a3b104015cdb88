import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDataDirectorySync } from '../core/mkdir.js';
import type { SigningAlg } from './types.js';
import { loadX509 } from './x509.js';

export interface GenerateSigningMaterialOptions {
  readonly alg: SigningAlg;
  /** Subject and issuer common name of the self-signed certificate. */
  readonly commonName: string;
  /** Certificate lifetime in days, counted from `now`. */
  readonly validDays: number;
  /** Defaults to the current time. */
  readonly now?: Date;
}

/** PEM texts: a PKCS#8 private key and the self-signed certificate for it. */
export interface SigningMaterial {
  readonly keyPem: string;
  readonly certPem: string;
}

/** How far back notBefore goes, so a registry whose clock is a little behind accepts the cert. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const RSA_BITS = 2048;

interface WebCryptoAlgs {
  readonly key: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams;
  readonly sign: webcrypto.EcdsaParams | webcrypto.Algorithm;
}

// The certificate is signed with the same hash as the tokens: SHA-256 or better, which Go's
// x509.Verify (the registry checking x5c) requires.
const ALGS: Readonly<Record<SigningAlg, WebCryptoAlgs>> = {
  ES256: { key: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  ES384: { key: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } },
  ES512: { key: { name: 'ECDSA', namedCurve: 'P-521' }, sign: { name: 'ECDSA', hash: 'SHA-512' } },
  RS256: {
    key: {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: RSA_BITS,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
};

/**
 * Generates a token signing key and a self-signed certificate for it, fit for the registry's
 * `auth.token.rootcertbundle` (the cert is its own root, and may be sent as a one-element x5c).
 */
export async function generateSigningMaterial(
  opts: GenerateSigningMaterialOptions,
): Promise<SigningMaterial> {
  if (!Number.isInteger(opts.validDays) || opts.validDays <= 0) {
    throw new TypeError('"validDays" must be a positive integer');
  }
  const x509 = await loadX509();
  const now = opts.now ?? new Date();
  const algs = ALGS[opts.alg];
  const keys = (await webcrypto.subtle.generateKey(algs.key, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomBytes(16).toString('hex'),
      // The JSON name form, so a common name holding `,` or `=` is not parsed as more RDNs.
      name: [{ CN: [opts.commonName] }],
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(now.getTime() + opts.validDays * DAY_MS),
      signingAlgorithm: algs.sign,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  return { keyPem, certPem: `${cert.toString('pem')}\n` };
}

export interface EnsureDevKeysOptions {
  /** Default ES256. */
  readonly alg?: SigningAlg;
  /** Default "regauth token signer". */
  readonly commonName?: string;
  /** Default 3650 (ten years: a development root the registry trusts). */
  readonly validDays?: number;
  readonly now?: Date;
}

/** Where the development key lives in a data folder: `dir/token.key` and `dir/token.pem`. */
export function devKeyFiles(dir: string): { readonly keyPath: string; readonly certificatePath: string } {
  return { keyPath: join(dir, 'token.key'), certificatePath: join(dir, 'token.pem') };
}

/**
 * Makes sure `dir/token.key` (mode 0600) and `dir/token.pem` exist, generating both (and `dir`)
 * when the key is missing. An existing key is never touched, even if its certificate is missing:
 * loading then fails with a clear error instead of silently changing the key the registry trusts.
 */
export async function ensureDevKeys(
  dir: string,
  opts: EnsureDevKeysOptions = {},
): Promise<{ created: boolean; keyPath: string; certPath: string }> {
  const { keyPath, certificatePath: certPath } = devKeyFiles(dir);
  const write = await pendingDevKeys(dir, opts);
  return { created: write?.() ?? false, keyPath, certPath };
}

/**
 * The development key of `dir`, made in memory when `dir/token.key` does not exist yet: the
 * returned function writes it (and `dir`), keeping a key another process wrote meanwhile, and
 * says whether it wrote it. Undefined when the key exists. `regauth serve` writes it only once
 * the config it is for has loaded without error.
 */
export async function pendingDevKeys(
  dir: string,
  opts: EnsureDevKeysOptions = {},
): Promise<(() => boolean) | undefined> {
  const { keyPath, certificatePath } = devKeyFiles(dir);
  if (existsSync(keyPath)) return undefined;
  const { keyPem, certPem } = await generateSigningMaterial({
    alg: opts.alg ?? 'ES256',
    commonName: opts.commonName ?? 'regauth token signer',
    validDays: opts.validDays ?? 3650,
    now: opts.now,
  });
  return () => {
    makeDataDirectorySync(dir);
    try {
      // 'wx': if another process created the key meanwhile, keep theirs.
      writeFileSync(keyPath, keyPem, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    // Renamed into place: a token.pem already there, or a symlink planted in its place, is
    // replaced, never written through.
    const fresh = `${certificatePath}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(fresh, certPem, { mode: 0o644, flag: 'wx' });
    // 0644 whatever the umask (which narrows the mode a file is created with): a registry run as
    // another user reads it as its rootcertbundle.
    chmodSync(fresh, 0o644);
    renameSync(fresh, certificatePath);
    return true;
  };
}
