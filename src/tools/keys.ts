import { X509Certificate } from 'node:crypto';
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadSigningKey } from '../token/keys.js';
import { generateSigningMaterial } from '../token/generate.js';
import { registryAuthBlock } from '../token/registry-block.js';
import { jwks } from '../token/sign.js';
import type { SigningAlg, SigningKey } from '../token/types.js';

/** The files `regauth keys` manages in its directory. */
export interface KeyFiles {
  /** The signing key (mode 0600): `token.key` in the regauth config. */
  readonly key: string;
  /** Its self-signed certificate: `token.certificate`. */
  readonly certificate: string;
  /** The certificates the registry must trust (`auth.token.rootcertbundle`): current, plus previous after a rotation. */
  readonly bundle: string;
  /** The public keys as a JWKS for registry v3 (`auth.token.jwks`), with v3's kids. */
  readonly jwks: string;
  /** After a rotation: the key and certificate it replaced. */
  readonly previousKey: string;
  readonly previousCertificate: string;
}

export function keyFiles(dir: string): KeyFiles {
  const d = resolve(dir);
  return {
    key: join(d, 'token.key'),
    certificate: join(d, 'token.pem'),
    bundle: join(d, 'bundle.pem'),
    jwks: join(d, 'jwks.json'),
    previousKey: join(d, 'previous.key'),
    previousCertificate: join(d, 'previous.pem'),
  };
}

export interface KeysOptions {
  readonly alg?: SigningAlg;
  /** Certificate lifetime; default ten years (the registry never sees a reason to distrust it sooner). */
  readonly validDays?: number;
  readonly now?: Date;
}

export const DEFAULT_VALID_DAYS = 3650;

/** An existing key would be overwritten: exit code 2. */
export class KeysUsageError extends Error {
  override readonly name = 'KeysUsageError';
}

/**
 * `regauth keys init`: a new signing key (mode 0600, never overwriting one), its self-signed
 * certificate, the bundle for the registry (the certificate alone) and the JWKS for registry v3.
 */
export async function keysInit(dir: string, options: KeysOptions = {}): Promise<KeyFiles> {
  const files = keyFiles(dir);
  if (await exists(files.key)) {
    throw new KeysUsageError(
      `${files.key} exists; refusing to overwrite a signing key (use \`regauth keys rotate\`)`,
    );
  }
  const material = await generate(options);
  // Only the owner may list the directory: it holds the private key.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(files.key, material.keyPem, { mode: 0o600, flag: 'wx' });
  await writeFile(files.certificate, material.certPem, { mode: 0o644 });
  await writeTrust(files, [material.certPem], [material.keyPem]);
  return files;
}

/**
 * `regauth keys rotate`: a new key and certificate become `token.key` / `token.pem`; the old ones
 * move to `previous.key` / `previous.pem`; `bundle.pem` and `jwks.json` hold both, so the registry
 * trusts tokens from either key during the overlap. A key older than the previous one is dropped
 * from the bundle (and its file overwritten), so rotate at most once per token lifetime.
 */
export async function keysRotate(dir: string, options: KeysOptions = {}): Promise<KeyFiles> {
  const files = keyFiles(dir);
  if (!(await exists(files.key))) {
    throw new KeysUsageError(`${files.key} does not exist; create it with \`regauth keys init\``);
  }
  const oldKeyPem = await readFile(files.key, 'utf8');
  const oldCertPem = await readFile(files.certificate, 'utf8');
  // Same algorithm as the current key unless asked otherwise.
  const alg = options.alg ?? signingKey(oldKeyPem, oldCertPem).alg;
  const material = await generate({ ...options, alg });
  // Write the new key beside the old, then swap by renames: an interrupted rotation never
  // leaves token.key missing.
  const nextKey = `${files.key}.next`;
  await writeFile(nextKey, material.keyPem, { mode: 0o600 });
  await rename(files.key, files.previousKey);
  await writeFile(files.previousCertificate, oldCertPem, { mode: 0o644 });
  await rename(nextKey, files.key);
  await writeFile(files.certificate, material.certPem, { mode: 0o644 });
  await writeTrust(files, [material.certPem, oldCertPem], [material.keyPem, oldKeyPem]);
  return files;
}

async function generate(options: KeysOptions) {
  return generateSigningMaterial({
    alg: options.alg ?? 'ES256',
    commonName: 'regauth token signer',
    validDays: options.validDays ?? DEFAULT_VALID_DAYS,
    ...(options.now ? { now: options.now } : {}),
  });
}

async function writeTrust(files: KeyFiles, certPems: string[], keyPems: string[]): Promise<void> {
  await writeFile(files.bundle, certPems.map((p) => p.trimEnd() + '\n').join(''), { mode: 0o644 });
  const keys = keyPems.map((k, i) => signingKey(k, certPems[i]!));
  await writeFile(files.jwks, `${JSON.stringify(jwks(keys), null, 2)}\n`, { mode: 0o644 });
}

function signingKey(keyPem: string, certPem: string): SigningKey {
  return loadSigningKey({ keyPem, certPem, x5c: false, kidFormat: 'libtrust' });
}

/**
 * The blocks to paste: the regauth `token:` keys and the registry's `auth.token`, for the
 * files in `files` (absolute paths: adjust them if the files move into containers).
 */
export function pasteBlocks(files: KeyFiles, certificatePem: string): string {
  const cert = new X509Certificate(certificatePem);
  return `# regauth config.yml
token:
  issuer: "regauth"               # must equal auth.token.issuer below
  key: ${files.key}
  certificate: ${files.certificate}

# registry config.yml
${registryAuthBlock({
  realm: 'https://registry.example.com/auth',
  service: 'registry.example.com',
  issuer: 'regauth',
  bundle: files.bundle,
  jwks: files.jwks,
})}
# certificate valid until ${new Date(cert.validTo).toISOString()}
`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
