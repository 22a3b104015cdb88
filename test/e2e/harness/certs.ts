import { join } from 'node:path';
import { runCommand } from './proc.js';

export interface KeyPair {
  /** PEM certificate, usable as a registry `rootcertbundle`. */
  certPath: string;
  /** PEM PKCS#8 private key, unencrypted. */
  keyPath: string;
}

/**
 * Generates a self-signed P-256 certificate valid for one day into `dir` as `<name>.crt` and
 * `<name>.key`, with openssl (a test peer, see scripts/test-peers.sh). With `san`
 * (`DNS:localhost,IP:127.0.0.1`), a TLS server certificate for those names.
 */
export async function selfSignedCert(
  dir: string,
  name = 'token',
  subject = '/CN=regauth-test',
  san?: string,
): Promise<KeyPair> {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const args = [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
  ];
  args.push('-subj', subject, '-keyout', keyPath, '-out', certPath);
  if (san !== undefined) args.push('-addext', `subjectAltName=${san}`);
  const result = await runCommand('openssl', args, { timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`openssl req failed (${result.code}): ${result.stderr}`);
  return { certPath, keyPath };
}
