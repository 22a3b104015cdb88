import { X509Certificate } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import { makeDirectory } from '../core/mkdir.js';
import { certificateBlocks, loadSigningKey } from '../token/keys.js';
import { generateSigningMaterial } from '../token/generate.js';
import { registryAuthBlock } from '../token/registry-block.js';
import { jwks } from '../token/sign.js';
import type { SigningAlg, SigningKey } from '../token/types.js';

/** The files `regauth keys` manages in its directory. */
export interface KeyFiles {
  /** The signing key (mode 0600): `token.key` in the regauth config. regauth signs with it. */
  readonly key: string;
  /** Its self-signed certificate: `token.certificate`. */
  readonly certificate: string;
  /**
   * The certificates the registry must trust (`auth.token.rootcertbundle`): the current one, the
   * next one while a rotation is pending, the previous one after an activation.
   */
  readonly bundle: string;
  /** The same public keys as a JWKS for registry v3 (`auth.token.jwks`), with v3's kids. */
  readonly jwks: string;
  /** While a rotation is pending: the key `keys activate` will sign with, and its certificate. */
  readonly nextKey: string;
  readonly nextCertificate: string;
  /** After an activation: the key it retired (tokens it signed may still be in use) and its certificate. */
  readonly previousKey: string;
  readonly previousCertificate: string;
  /**
   * With `--publish`: the copies of bundle.pem and jwks.json in a directory of their own, for a
   * registry that must not see the private keys beside the originals.
   */
  readonly published?: { readonly bundle: string; readonly jwks: string };
}

export function keyFiles(dir: string): KeyFiles {
  const d = resolve(dir);
  return {
    key: join(d, 'token.key'),
    certificate: join(d, 'token.pem'),
    bundle: join(d, 'bundle.pem'),
    jwks: join(d, 'jwks.json'),
    nextKey: join(d, 'next.key'),
    nextCertificate: join(d, 'next.pem'),
    previousKey: join(d, 'previous.key'),
    previousCertificate: join(d, 'previous.pem'),
  };
}

export interface KeysOptions {
  readonly alg?: SigningAlg;
  /** Also write bundle.pem and jwks.json (public files only) into this directory. */
  readonly publish?: string;
  /** Certificate lifetime; default ten years (the registry never sees a reason to distrust it sooner). */
  readonly validDays?: number;
  readonly now?: Date;
}

export const DEFAULT_VALID_DAYS = 3650;

/**
 * `regauth keys init`: a new signing key (mode 0600, never overwriting one), its self-signed
 * certificate, the bundle for the registry (the certificate alone) and the JWKS for registry v3.
 */
export async function keysInit(dir: string, options: KeysOptions = {}): Promise<KeyFiles> {
  const files = await withPublished(keyFiles(dir), options.publish);
  if (await exists(files.key)) {
    throw new UsageError(
      `${files.key} exists; refusing to overwrite a signing key (use \`regauth keys rotate\`)`,
    );
  }
  const material = await generate(options);
  // Only the owner may list the directory: it holds the private key.
  await makeDirectory(dir, 0o700);
  await writeFile(files.key, material.keyPem, { mode: 0o600, flag: 'wx' });
  await writeFile(files.certificate, material.certPem, { mode: 0o644 });
  await writeTrust(files, [{ keyPem: material.keyPem, certPem: material.certPem }]);
  return files;
}

/** What `keys rotate` did: the files, and whether the bundle still carries the previous key. */
export interface RotateResult extends KeyFiles {
  /** previous.pem exists and stays in the bundle (tokens it signed may not have expired yet). */
  readonly keptPrevious: boolean;
}

/**
 * `regauth keys rotate`, step 1 of 2: a new key and certificate are written as `next.key` /
 * `next.pem`, and `bundle.pem` / `jwks.json` list the current key, the next one and (when present)
 * the previous one. `token.key` and `token.pem` are not touched, so regauth goes on signing with
 * the current key: the registry can be restarted with the new bundle first, and `keys activate`
 * switches signing afterwards.
 *
 * Refuses (UsageError) while a rotation is pending: a second rotate would replace a next key
 * that a registry may already trust, and activating its successor would break every token.
 */
export async function keysRotate(dir: string, options: KeysOptions = {}): Promise<RotateResult> {
  const files = await withPublished(keyFiles(dir), options.publish);
  if (!(await exists(files.key))) {
    throw new UsageError(`${files.key} does not exist; create it with \`regauth keys init\``);
  }
  if ((await exists(files.nextKey)) || (await exists(files.nextCertificate))) {
    throw new UsageError(
      `a rotation is pending: ${files.nextKey} exists and may already be trusted by the registry; ` +
        `finish it with \`regauth keys activate --dir ${dir}\` once the registry has been restarted with ` +
        `${files.bundle}, or delete ${files.nextKey} and ${files.nextCertificate} if no registry was ` +
        `given that bundle; nothing was changed`,
    );
  }
  const current = await readPair(files.key, files.certificate);
  // Same algorithm as the current key unless asked otherwise.
  const alg = options.alg ?? signingKey(current).alg;
  const material = await generate({ ...options, alg });
  const previous = await readPairIfPresent(files.previousKey, files.previousCertificate);
  // The certificate first: next.key is what marks a rotation as pending.
  await writeFile(files.nextCertificate, material.certPem, { mode: 0o644 });
  await writeFile(files.nextKey, material.keyPem, { mode: 0o600, flag: 'wx' });
  await writeTrust(files, [
    current,
    { keyPem: material.keyPem, certPem: material.certPem },
    ...(previous ? [previous] : []),
  ]);
  return { ...files, keptPrevious: previous !== undefined };
}

/** What `keys activate` did. */
export interface ActivateResult extends KeyFiles {
  /** The libtrust kid regauth signs with from now on. */
  readonly kid: string;
  /** The libtrust kid of the key that was retired to previous.key. */
  readonly retiredKid: string;
  /** The kid of a key retired by an earlier activation, now dropped from the bundle. */
  readonly droppedKid?: string;
}

/**
 * `regauth keys activate`, step 2 of 2: the next key becomes `token.key` / `token.pem` (regauth
 * reloads when they change, or on SIGHUP), the current one moves to `previous.key` /
 * `previous.pem`, and `bundle.pem` / `jwks.json` list the new current key and the previous one:
 * tokens signed before the switch stay valid until they expire, even after another registry
 * restart. A key retired by an earlier activation leaves the bundle now.
 *
 * An activation interrupted between its two renames is finished by running it again.
 */
export async function keysActivate(
  dir: string,
  options: Pick<KeysOptions, 'publish'> = {},
): Promise<ActivateResult> {
  const files = await withPublished(keyFiles(dir), options.publish);
  const nextKey = await exists(files.nextKey);
  const nextCert = await exists(files.nextCertificate);
  if (!nextKey && nextCert) {
    // Interrupted after next.key became token.key: finish when the pair matches.
    const current = await readPair(files.key, files.nextCertificate);
    if (matches(current)) {
      await rename(files.nextCertificate, files.certificate);
      return activated(files, current);
    }
  }
  if (!nextKey || !nextCert) {
    throw new UsageError(
      `no rotation is pending in ${resolve(dir)} (${nextKey ? files.nextCertificate : files.nextKey} is missing); ` +
        `start one with \`regauth keys rotate --dir ${dir}\``,
    );
  }
  const next = await readPair(files.nextKey, files.nextCertificate);
  if (!matches(next)) {
    throw new UsageError(`${files.nextCertificate} does not belong to ${files.nextKey}; nothing was changed`);
  }
  const current = await readPair(files.key, files.certificate);
  const dropped = await readPairIfPresent(files.previousKey, files.previousCertificate);
  // Retire the current key first (written beside, then renamed: never half a file).
  await replaceFile(files.previousKey, current.keyPem, 0o600);
  await replaceFile(files.previousCertificate, certificateBlocks(current.certPem), 0o644);
  // Two renames, back to back: regauth's watcher folds them into one reload.
  await rename(files.nextKey, files.key);
  await rename(files.nextCertificate, files.certificate);
  return activated(files, next, current, dropped);
}

async function activated(
  files: KeyFiles,
  now: Pair,
  retired?: Pair,
  dropped?: Pair,
): Promise<ActivateResult> {
  const previous = retired ?? (await readPairIfPresent(files.previousKey, files.previousCertificate));
  await writeTrust(files, [now, ...(previous ? [previous] : [])]);
  return {
    ...files,
    kid: signingKey(now).libtrustKid,
    retiredKid: previous ? signingKey(previous).libtrustKid : '',
    ...(dropped ? { droppedKid: signingKey(dropped).libtrustKid } : {}),
  };
}

interface Pair {
  readonly keyPem: string;
  readonly certPem: string;
}

async function readPair(keyPath: string, certPath: string): Promise<Pair> {
  return { keyPem: await readFile(keyPath, 'utf8'), certPem: await readFile(certPath, 'utf8') };
}

async function readPairIfPresent(keyPath: string, certPath: string): Promise<Pair | undefined> {
  if (!(await exists(keyPath)) || !(await exists(certPath))) return undefined;
  return readPair(keyPath, certPath);
}

function matches(pair: Pair): boolean {
  try {
    signingKey(pair);
    return true;
  } catch {
    return false;
  }
}

async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}

async function generate(options: KeysOptions) {
  return generateSigningMaterial({
    alg: options.alg ?? 'ES256',
    commonName: 'regauth token signer',
    validDays: options.validDays ?? DEFAULT_VALID_DAYS,
    ...(options.now ? { now: options.now } : {}),
  });
}

/**
 * bundle.pem and jwks.json for these keys, each replaced whole (a registry starting now reads one
 * or the other), and their published copies.
 */
async function writeTrust(files: KeyFiles, pairs: readonly Pair[]): Promise<void> {
  // Certificates only: a token.pem may hold its key too (a combined PEM).
  const bundle = pairs.map((p) => certificateBlocks(p.certPem)).join('');
  const set = `${JSON.stringify(jwks(pairs.map((p) => signingKey(p))), null, 2)}\n`;
  for (const target of [files, ...(files.published ? [files.published] : [])]) {
    await replaceFile(target.bundle, bundle, 0o644);
    await replaceFile(target.jwks, set, 0o644);
  }
}

/**
 * `files` with the published copies in `publish`, checked before anything is written: the
 * directory is created when missing and must be writable, and must not be the key directory.
 */
async function withPublished(files: KeyFiles, publish: string | undefined): Promise<KeyFiles> {
  if (publish === undefined) return files;
  const dir = resolve(publish);
  if (dir === dirname(files.key)) {
    throw new UsageError(
      `--publish ${publish} is the key directory, which holds the private key; give the registry a directory of its own`,
    );
  }
  await makeDirectory(dir, 0o755).catch((err: Error) => {
    throw new UsageError(`--publish: ${err.message}`);
  });
  await access(dir, constants.W_OK).catch(() => {
    throw new UsageError(`--publish: cannot write to ${dir}; nothing was changed`);
  });
  return { ...files, published: { bundle: join(dir, 'bundle.pem'), jwks: join(dir, 'jwks.json') } };
}

function signingKey(pair: Pair): SigningKey {
  return loadSigningKey({ keyPem: pair.keyPem, certPem: pair.certPem, x5c: false, kidFormat: 'libtrust' });
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
  bundle: (files.published ?? files).bundle,
  jwks: (files.published ?? files).jwks,
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
