import { execFileSync } from 'node:child_process';
import { KeyObject, webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSigningKey } from '../../src/token/keys.js';
import { loadX509 } from '../../src/token/x509.js';

/** A signing key and its certificate, as PEM. */
export interface KeyPair {
  readonly keyPem: string;
  readonly certPem: string;
}

/**
 * A self-signed P-256 certificate made by `openssl req -x509` in `dir` (files named `name.*`):
 * `extensions` are the lines of its `[ext]` section (`subjectAltName = critical,DNS:x`,
 * `2.5.29.30 = critical,DER:3000`), `sections` any further config sections they name; `subject`
 * its distinguished name (`/` for an empty one).
 */
export function opensslSelfSigned(
  dir: string,
  name: string,
  extensions: string,
  options: { readonly sections?: string; readonly subject?: string } = {},
): KeyPair {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.pem`);
  const conf = join(dir, `${name}.cnf`);
  writeFileSync(
    conf,
    `[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = ext\n[dn]\nCN = token signer\n[ext]\n${extensions}\n${options.sections ?? ''}`,
  );
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyPath]);
  const subject = options.subject === undefined ? [] : ['-subj', options.subject];
  execFileSync('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    keyPath,
    '-out',
    certPath,
    '-days',
    '1',
    '-config',
    conf,
    ...subject,
  ]);
  return { keyPem: readFileSync(keyPath, 'utf8'), certPem: readFileSync(certPath, 'utf8') };
}

type X509 = Awaited<ReturnType<typeof loadX509>>;

/**
 * A self-signed P-256 certificate for a fresh key, made with @peculiar/x509, named `CN=subject`,
 * valid from a minute ago for a day, whose extensions `extensions` makes (given the library and
 * the public key).
 */
export async function peculiarSelfSigned(
  subject: string,
  extensions: (x509: X509, publicKey: webcrypto.CryptoKey) => Promise<InstanceType<X509['Extension']>[]>,
): Promise<KeyPair> {
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: `CN=${subject}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      signingAlgorithm: alg,
      keys,
      extensions: await extensions(x509, keys.publicKey),
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  return {
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: `${cert.toString('pem')}\n`,
  };
}

/** Loads `pair` as the token key with x5c, its certificate named `/k/token.pem` in errors. */
export function loadWithX5c({ keyPem, certPem }: KeyPair): void {
  loadSigningKey({ keyPem, certPem, x5c: true, kidFormat: 'libtrust', certPath: '/k/token.pem' });
}

/** The error loading `pair` with x5c throws, or undefined when it loads. */
export function x5cLoadError(pair: KeyPair): unknown {
  try {
    loadWithX5c(pair);
    return undefined;
  } catch (err) {
    return err;
  }
}
