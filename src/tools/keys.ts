import { createPublicKey, randomBytes, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, rmSync } from 'node:fs';
import {
  access,
  lstat,
  open,
  readFile,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  type FileHandle,
} from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../core/errors.js';
import { chmodDirectory, makeDirectory, missingDirectories } from '../core/mkdir.js';
import { shellQuote } from '../core/shell.js';
import { yamlScalar } from '../core/yaml-scalar.js';
import {
  certificateBlocks,
  certificateFingerprints,
  readableCertificates,
  loadSigningKey,
  sameKey,
} from '../token/keys.js';
import { libtrustKeyId } from '../token/kid.js';
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
 * The algorithms `keys init --alg` and `keys rotate --alg` make keys for (a rotate without --alg
 * keeps the current key's, which may be another regauth signs with).
 */
export const KEY_ALGORITHMS = ['ES256', 'RS256'] as const satisfies readonly SigningAlg[];

/**
 * `regauth keys init`: a new signing key (mode 0600, never overwriting one), its self-signed
 * certificate, the bundle for the registry (the certificate alone) and the JWKS for registry v3.
 */
export async function keysInit(dir: string, options: KeysOptions = {}): Promise<KeyFiles> {
  return withKeysLock(dir, async () => {
    const files = await withPublished(keyFiles(dir), options.publish);
    if (await exists(files.key)) {
      throw new UsageError(
        (await taken(files.certificate))
          ? `${files.key} exists; refusing to overwrite a signing key (use \`regauth keys rotate\`)`
          : `${files.key} exists without ${basename(files.certificate)} (a \`keys init\` cut short?): if no regauth signs with it, remove it and run \`keys init\` again; nothing was changed`,
      );
    }
    // A rotation's files from an earlier key: `keys activate` would switch to a next key the new
    // bundle never held, and `keys rotate` put a retired previous key back in the bundle.
    const leftovers = [];
    // A symlink counts wherever it points (nowhere, too), as it does for `keys rotate`.
    for (const file of [files.nextKey, files.nextCertificate, files.previousKey, files.previousCertificate]) {
      if (await taken(file)) leftovers.push(file);
    }
    if (leftovers.length > 0) {
      throw new UsageError(
        `${leftovers.map((f) => basename(f)).join(', ')} in ${dir} are from an earlier key; remove them to start over (a new start must not trust or switch to them)`,
      );
    }
    const material = await generate(options);
    // Only the owner may list the directory: it holds the private key.
    const made = await missingDirectories(dir);
    // Its parents, like any directory a step makes, 0755: one may also lead to the registry's copy.
    try {
      if (made.length > 1) await makeDirectoryWithMode(dirname(resolve(dir)), 0o755);
      await makeDirectoryWithMode(dir, 0o700);
    } catch (err) {
      await removeDirectories(made);
      throw err;
    }
    await openPublished(files).catch(async (err: unknown) => {
      // "Nothing was changed": the directories this run made go again (they are still empty).
      await removeDirectories(made);
      throw err;
    });
    await refuseDirectories([files.certificate, ...trustFiles(files)]).catch(async (err: unknown) => {
      await removeDirectories(made);
      throw err;
    });
    await writeNew(files.key, material.keyPem, 0o600);
    // Replaced whole: a stale token.pem, or a symlink in its place, is not written through.
    await replaceFile(files.certificate, material.certPem, 0o644);
    await writeTrust(files, [{ keyPem: material.keyPem, certPem: material.certPem }]);
    return files;
  });
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
  return withKeysLock(dir, async () => {
    const files = await withPublished(keyFiles(dir), options.publish);
    if (!(await exists(files.key))) {
      throw new UsageError(`${files.key} does not exist; create it with \`regauth keys init\``);
    }
    if (!(await taken(files.nextKey)) && (await taken(files.nextCertificate))) {
      // next.key is written second: a next.pem alone is from a rotate cut short (no bundle ever
      // held it) or an activation cut short after next.key became token.key.
      throw new UsageError(
        (await pairMatches(files.key, files.nextCertificate))
          ? `an activation was cut short (${files.nextCertificate} belongs to ${files.key}); finish it with \`regauth keys activate --dir ${shellQuote(dir)}${publishFlag(files)}\`, then rotate; nothing was changed`
          : `${files.nextCertificate} is left from a rotate cut short (there is no ${basename(files.nextKey)}); delete it, then rotate again; nothing was changed`,
      );
    }
    if ((await taken(files.nextKey)) || (await taken(files.nextCertificate))) {
      // With --publish, the registry's copy may predate the rotation (rotate ran without it): copy
      // first, or the registry is restarted with a bundle that lacks the next key.
      const copy = files.published
        ? `copy the files with \`regauth keys publish --dir ${shellQuote(dir)}${publishFlag(files)}\` (the copy in ${shellQuote(dirname(files.published.bundle))} may predate the rotation), then `
        : '';
      throw new UsageError(
        `a rotation is pending: ${files.nextKey} exists and may already be trusted by the registry; ` +
          `to finish it, ${copy}run \`regauth keys activate --dir ${shellQuote(dir)}${publishFlag(files)}\` once the registry has been restarted with ` +
          `${(files.published ?? files).bundle}; or delete ${files.nextKey} and ${files.nextCertificate} if no registry was ` +
          `given that bundle; nothing was changed`,
      );
    }
    await openPublished(files);
    // Every pair the bundle will list is checked before anything is written.
    const current = await readMatchingPair(files.key, files.certificate);
    const previous = await readPairIfPresent(files.previousKey, files.previousCertificate);
    if (previous) await readMatchingPair(files.previousKey, files.previousCertificate);
    await refuseDirectories(trustFiles(files));
    // Same algorithm as the current key unless asked otherwise.
    const alg = options.alg ?? signingKey(current).alg;
    const material = await generate({ ...options, alg });
    // The certificate first: next.key is what marks a rotation as pending.
    await writeNew(files.nextCertificate, material.certPem, 0o644);
    await writeNew(files.nextKey, material.keyPem, 0o600);
    const pairs = [
      current,
      { keyPem: material.keyPem, certPem: material.certPem },
      ...(previous ? [previous] : []),
    ];
    // Refused before bundle.pem listed it, the next key is no pending rotation: it goes again.
    await writeTrust(files, pairs, () =>
      Promise.all([rm(files.nextKey, { force: true }), rm(files.nextCertificate, { force: true })]),
    );
    return { ...files, keptPrevious: previous !== undefined };
  });
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
  return withKeysLock(dir, async () => {
    const files = await withPublished(keyFiles(dir), options.publish);
    const nextKey = await exists(files.nextKey);
    const nextCert = await exists(files.nextCertificate);
    if (!nextKey && nextCert) {
      // Interrupted after next.key became token.key: finish when the pair matches.
      const current = await readPair(files.key, files.nextCertificate);
      if (matches(current)) {
        await openPublished(files);
        await rename(files.nextCertificate, files.certificate);
        return activated(files, current);
      }
    }
    if (!nextKey && !nextCert) {
      // Cut short after its renames, before bundle.pem and jwks.json: finished now.
      const current = await readMatchingPair(files.key, files.certificate);
      const previous = await readPairIfPresent(files.previousKey, files.previousCertificate);
      // Told from a rotation cancelled by deleting next.* (whose bundle lists token.pem first): the
      // bundle of the rotation lists the key then current (now previous.pem) first, the next one
      // (now token.pem) after it.
      if (previous && matches(previous) && (await rotationBundleOf(files.bundle, previous, current))) {
        await openPublished(files);
        return activated(files, current);
      }
    }
    if (!nextKey || !nextCert) {
      throw new UsageError(
        `no rotation is pending in ${resolve(dir)} (${nextKey ? files.nextCertificate : files.nextKey} is missing); ` +
          `start one with \`regauth keys rotate --dir ${shellQuote(dir)}${publishFlag(files)}\``,
      );
    }
    const next = await readPair(files.nextKey, files.nextCertificate);
    if (!matches(next)) {
      throw new UsageError(
        `${files.nextCertificate} does not belong to ${files.nextKey}; nothing was changed`,
      );
    }
    await refuseUnpublishedNext(files, next);
    await openPublished(files);
    const current = await readPair(files.key, files.certificate);
    // Retire the current key first (written beside, then renamed: never half a file).
    await replaceFile(files.previousKey, current.keyPem, 0o600);
    await replaceFile(files.previousCertificate, certificateBlocks(current.certPem), 0o644);
    // Two renames, back to back: regauth's watcher folds them into one reload.
    await rename(files.nextKey, files.key);
    await rename(files.nextCertificate, files.certificate);
    return activated(files, next, current);
  });
}

/**
 * Writes the bundle of an activation: the key it signs with now and the one it retired. The key
 * the bundle held besides them (retired by the activation before) leaves it, and is named; so is
 * it when this run finishes one cut short, whatever previous.* held when it was cut.
 */
async function activated(files: KeyFiles, now: Pair, retired?: Pair): Promise<ActivateResult> {
  const previous = retired ?? (await readPairIfPresent(files.previousKey, files.previousCertificate));
  const kept = [now, ...(previous ? [previous] : [])];
  const dropped = await leavingKid(files.bundle, kept);
  await writeTrust(files, kept);
  return {
    ...files,
    kid: signingKey(now).libtrustKid,
    retiredKid: previous ? signingKey(previous).libtrustKid : '',
    ...(dropped ? { droppedKid: dropped } : {}),
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

/** The pair at these paths; a UsageError naming them when the certificate is not the key's. */
async function readMatchingPair(keyPath: string, certPath: string): Promise<Pair> {
  const pair = await readPair(keyPath, certPath).catch((err: NodeJS.ErrnoException) => {
    const path = err.path ?? certPath;
    throw new UsageError(
      `${path} ${err.code === 'ENOENT' ? 'does not exist' : `cannot be read (${err.code ?? err.message})`}` +
        `${path === certPath && err.code === 'ENOENT' ? ` beside ${basename(keyPath)} (a \`keys init\` cut short? remove ${basename(keyPath)} if no regauth signs with it, and run it again)` : ''}; nothing was changed`,
    );
  });
  try {
    signingKey(pair);
  } catch (err) {
    throw new UsageError(
      `${certPath} does not match ${keyPath} (${(err as Error).message}); nothing was changed`,
    );
  }
  return pair;
}

/** Whether the certificate at `certPath` is the key's at `keyPath` (false when either is unreadable). */
async function pairMatches(keyPath: string, certPath: string): Promise<boolean> {
  return readPair(keyPath, certPath).then(matches, () => false);
}

/** The certificates of the bundle at `path` that parse (none when it cannot be read). */
async function bundleCertificates(path: string): Promise<X509Certificate[]> {
  return readableCertificates(await readFile(path, 'utf8').catch(() => ''));
}

/**
 * Whether the bundle at `path` is the one `keys rotate` wrote for `current` as the key then in
 * use and `next` as the next one: it lists current's key first, and next's; an activation cut
 * short after its renames left such a bundle (current is previous.pem by then). Compared by key:
 * a certificate issued again for the same key meanwhile is the same key.
 */
async function rotationBundleOf(path: string, current: Pair, next: Pair): Promise<boolean> {
  const held = (await bundleCertificates(path)).map((c) => libtrustKeyId(c.publicKey));
  return held[0] === signingKey(current).libtrustKid && held.includes(signingKey(next).libtrustKid);
}

/**
 * The libtrust kid of the first key the bundle at `path` lists besides those of `kept`, if any:
 * compared by key, not certificate (a certificate issued again for a kept key does not leave
 * with it). A certificate that issued another one in the bundle (a CA of a chain, the one of a
 * kept pair's file or of an older one) is no signing key of its own.
 */
async function leavingKid(path: string, kept: readonly Pair[]): Promise<string | undefined> {
  const keys = new Set(kept.map((p) => signingKey(p).libtrustKid));
  const certificates = await bundleCertificates(path);
  const issuesAnother = (ca: X509Certificate) =>
    certificates.some((c) => c !== ca && c.checkIssued(ca) && c.verify(ca.publicKey));
  for (const certificate of certificates) {
    const kid = libtrustKeyId(certificate.publicKey);
    if (!keys.has(kid) && !issuesAnother(certificate)) return kid;
  }
  return undefined;
}

function matches(pair: Pair): boolean {
  try {
    signingKey(pair);
    return true;
  } catch {
    return false;
  }
}

/**
 * `makeDirectory(path)`, each directory it makes given exactly `mode` whatever the umask before
 * the next is made in it (a umask such as 0277 would leave it unwritable); the directories that
 * were there are left alone. See chmodDirectory for one swapped meanwhile.
 */
async function makeDirectoryWithMode(path: string, mode: number): Promise<void> {
  for (const d of await missingDirectories(path)) {
    await makeDirectory(d, mode);
    await chmodDirectory(d, mode);
  }
}

/**
 * A new file at `path` (`wx`: one already there, a planted symlink too, is refused), with exactly
 * `mode` whatever the umask: set on the open file, not its name, before any byte is written, and
 * only where the umask took bits (a file made with its mode may belong to another uid, as on an
 * NFS export squashing owners, which may not chmod it). On failure it is removed again.
 */
async function createWithMode(path: string, mode: number): Promise<FileHandle> {
  const file = await open(path, 'wx', mode);
  try {
    if (((await file.stat()).mode & 0o7777) !== mode) await file.chmod(mode);
    return file;
  } catch (err) {
    await file.close();
    await rm(path, { force: true });
    throw err;
  }
}

/** Writes `text` to a new file at `path` with exactly `mode` (createWithMode: one already there is refused). */
async function writeNew(path: string, text: string, mode: number): Promise<void> {
  const file = await createWithMode(path, mode);
  try {
    await file.writeFile(text);
  } finally {
    await file.close();
  }
}

/**
 * Refuses (UsageError) a directory where one of `paths` is to be written: `docker run -v
 * ./keys/bundle.pem:…` makes one when the file is not there yet. A step checks its targets
 * before it writes anything, so that it is refused whole and can be run again once fixed.
 */
async function refuseDirectories(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    if ((await lstat(path).catch(() => undefined))?.isDirectory()) {
      throw new UsageError(`${path} is a directory; remove it (a file goes there); nothing was changed`);
    }
  }
}

/** The files a step writes besides the keys: bundle.pem and jwks.json, and their published copies. */
function trustFiles(files: KeyFiles): string[] {
  return [
    files.bundle,
    files.jwks,
    ...(files.published ? [files.published.bundle, files.published.jwks] : []),
  ];
}

async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  await replaceFiles([{ path, text, mode }]);
}

/**
 * Replaces each file whole: every new text is written to a fresh file beside its target first
 * (created, never reused: a stale or planted `*.tmp` is not followed), given its mode whatever
 * the umask, and only then renamed over the targets, so a failure leaves every target as it was.
 */
async function replaceFiles(files: readonly { path: string; text: string; mode: number }[]): Promise<void> {
  // The renames below cannot fail half-way for want of a check: a directory in a target's place.
  await refuseDirectories(files.map((f) => f.path));
  const written: { tmp: string; path: string }[] = [];
  try {
    for (const f of files) {
      const tmp = `${f.path}.${randomBytes(6).toString('hex')}.tmp`;
      const file = await createWithMode(tmp, f.mode);
      written.push({ tmp, path: f.path });
      try {
        await file.writeFile(f.text);
      } finally {
        await file.close();
      }
    }
  } catch (err) {
    await Promise.all(written.map((w) => rm(w.tmp, { force: true })));
    throw err;
  }
  for (const w of written) await rename(w.tmp, w.path);
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
 * or the other), then their published copies the same way. A failure to publish says how to
 * finish: the keys themselves are written by then.
 */
async function writeTrust(
  files: KeyFiles,
  pairs: readonly Pair[],
  /** Called when bundle.pem and jwks.json could not be written (before it throws). */
  undo?: () => Promise<unknown>,
): Promise<void> {
  let bundle: string;
  let set: string;
  try {
    // Certificates only: a token.pem may hold its key too (a combined PEM).
    bundle = pairs.map((p) => certificateBlocks(p.certPem)).join('');
    set = `${JSON.stringify(jwks(pairs.map((p) => signingKey(p))), null, 2)}\n`;
    await replaceFiles([
      { path: files.bundle, text: bundle, mode: 0o644 },
      { path: files.jwks, text: set, mode: 0o644 },
    ]);
  } catch (err) {
    await undo?.();
    throw err;
  }
  const published = files.published;
  if (!published) return;
  await replaceFiles([
    { path: published.bundle, text: bundle, mode: 0o644 },
    { path: published.jwks, text: set, mode: 0o644 },
  ]).catch((err: Error) => {
    throw new UsageError(
      `${files.bundle} and ${files.jwks} are written, but not their copies in ${dirname(published.bundle)}: ` +
        `${err.message}; once that is fixed, copy them with \`regauth keys publish --dir ${shellQuote(dirname(files.key))}` +
        `${publishFlag(files)}\``,
    );
  });
}

/**
 * `files` with the published copies in `publish`. Refused (nothing written) when the directory
 * is the key directory or holds it, symlinks followed: the registry would read the private key.
 */
async function withPublished(files: KeyFiles, publish: string | undefined): Promise<KeyFiles> {
  if (publish === undefined) return files;
  const dir = resolve(publish);
  const keys = await realPath(dirname(files.key));
  const target = await realPath(dir);
  if (
    target === keys ||
    keys.startsWith(`${target}${sep}`) ||
    target === sep ||
    (await sameOrAncestor(target, keys))
  ) {
    throw new UsageError(
      `--publish ${publish} ${target === keys ? 'is' : 'is or holds'} the key directory (${keys}), with the private key; ` +
        `give the registry a directory of its own; nothing was changed`,
    );
  }
  return { ...files, published: { bundle: join(dir, 'bundle.pem'), jwks: join(dir, 'jwks.json') } };
}

/** Creates the published directory (0755) when missing, once the step is sure to write; it must be writable. */
async function openPublished(files: KeyFiles): Promise<void> {
  if (!files.published) return;
  const dir = dirname(files.published.bundle);
  let made: string[] = [];
  try {
    made = await missingDirectories(dir);
    // The registry may run as another user: what this makes is 0755 whatever the umask (the
    // directories that were there are left alone).
    await makeDirectoryWithMode(dir, 0o755);
  } catch (err) {
    await removeDirectories(made);
    throw new UsageError(`--publish: ${(err as Error).message}; nothing was changed`);
  }
  await access(dir, constants.W_OK).catch(() => {
    throw new UsageError(`--publish: cannot write to ${dir}; nothing was changed`);
  });
}

/** Removes the (empty) directories a refused step made, deepest first. */
async function removeDirectories(made: readonly string[]): Promise<void> {
  if (made.length === 0) return;
  const base = dirname(made[0]!);
  const real = await realpath(base).catch(() => undefined);
  for (const d of [...made].reverse()) {
    // Only where the path still leads to it: one of them swapped for a symlink meanwhile (by
    // someone who can write in a parent) is not followed to a directory elsewhere.
    const here = await realpath(d).catch(() => undefined);
    if (real !== undefined && here === join(real, relative(base, d))) await rmdir(d).catch(() => undefined);
  }
}

/**
 * The bundle and the JWKS the registry was given (the published copies with --publish, else the
 * ones in the key directory) must already trust the next key (a rotate run without --publish, or
 * one cut short before it wrote them, left it out), or activating would sign with a key the
 * registry, restarted with them, refuses.
 */
async function refuseUnpublishedNext(files: KeyFiles, next: Pair): Promise<void> {
  const bundle = (files.published ?? files).bundle;
  const trusted = await readFile(bundle, 'utf8').catch(() => '');
  // Compared as certificates, not text (line ends, a trailing space: the registry reads either).
  const nextCertificate = certificateFingerprints(next.certPem)[0];
  const why = files.published
    ? '`keys rotate` ran without --publish, or was cut short?'
    : '`keys rotate` was cut short?';
  const publish = `regauth keys publish --dir ${shellQuote(dirname(files.key))}${files.published ? publishFlag(files) : ' --publish DIR'}`;
  const fix =
    `write it with \`${publish}\`` +
    `${files.published ? '' : ' (DIR: where the registry reads its copy)'}, restart the registry with it, then activate; ` +
    `nothing was changed`;
  if (!(nextCertificate !== undefined && certificateFingerprints(trusted).includes(nextCertificate))) {
    throw new UsageError(`${bundle} does not hold the next key (${why}); ${fix}`);
  }
  // A registry v3 given the JWKS (auth.token.jwks) trusts a token that names its key by kid only
  // through it: a rotate stopped between bundle.pem and jwks.json left the next key out of it.
  // (A copy with no jwks.json beside its bundle, installed by hand for a registry 2.8: none to hold it.)
  const set = (files.published ?? files).jwks;
  const text = await readFile(set, 'utf8').catch((err: NodeJS.ErrnoException) =>
    files.published && err.code === 'ENOENT' ? undefined : '',
  );
  if (text !== undefined && !jwksHolds(text, new X509Certificate(next.certPem).publicKey)) {
    throw new UsageError(`${set} does not hold the next key (${why}); ${fix}`);
  }
}

/** Whether a JWKS's text lists this public key. */
function jwksHolds(text: string, key: KeyObject): boolean {
  let keys: unknown;
  try {
    keys = (JSON.parse(text) as { keys?: unknown }).keys;
  } catch {
    return false;
  }
  if (!Array.isArray(keys)) return false;
  return keys.some((jwk: unknown) => {
    try {
      return sameKey(createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }), key);
    } catch {
      return false;
    }
  });
}

/** ` --publish DIR` when the step publishes, for the commands a message suggests. */
function publishFlag(files: KeyFiles): string {
  return files.published ? ` --publish ${shellQuote(dirname(files.published.bundle))}` : '';
}

/**
 * Is `dir` (when it exists) the directory `of`, or one above it, by device and inode: the same
 * directory mounted a second time (a bind mount, a volume mounted twice) has another path.
 */
async function sameOrAncestor(dir: string, of: string): Promise<boolean> {
  const id = await stat(dir).catch(() => undefined);
  if (!id) return false;
  for (let p = of; ; p = dirname(p)) {
    const s = await stat(p).catch(() => undefined);
    if (s && s.dev === id.dev && s.ino === id.ino) return true;
    if (dirname(p) === p) return false;
  }
}

/** The path with every symlink resolved, for the part that exists; the rest as written. */
async function realPath(path: string): Promise<string> {
  const rest: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    try {
      return join(await realpath(p), ...rest.reverse());
    } catch {
      if (dirname(p) === p) return resolve(path);
      rest.push(basename(p));
    }
  }
}

/**
 * `regauth keys publish`: writes bundle.pem and jwks.json for the keys in `dir` as they stand (the
 * current key, the next one while a rotation is pending, the previous one) into the key
 * directory and `publish`. It finishes a step whose publishing failed, or gives a new registry
 * directory its first copy.
 */
export async function keysPublish(dir: string, publish: string): Promise<KeyFiles> {
  return withKeysLock(dir, async () => {
    const files = await withPublished(keyFiles(dir), publish);
    if (!(await exists(files.key))) {
      throw new UsageError(`${files.key} does not exist; create it with \`regauth keys init\``);
    }
    const current = await readPair(files.key, files.certificate);
    const next = (await exists(files.nextKey))
      ? await readPairIfPresent(files.nextKey, files.nextCertificate)
      : undefined;
    const previous = await readPairIfPresent(files.previousKey, files.previousCertificate);
    for (const pair of [current, next, previous]) {
      if (pair && !matches(pair)) {
        throw new UsageError(
          `a certificate in ${resolve(dir)} does not belong to its key (an activation cut short? finish it with ` +
            `\`regauth keys activate --dir ${shellQuote(dir)}${publishFlag(files)}\`); nothing was changed`,
        );
      }
    }
    await openPublished(files);
    await writeTrust(files, [current, ...(next ? [next] : []), ...(previous ? [previous] : [])]);
    return files;
  });
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
  key: ${yamlScalar(files.key)}
  certificate: ${yamlScalar(files.certificate)}

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

/** Whether anything is at `path`: a symlink counts, wherever it points (nowhere, too). */
async function taken(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined;
}

/**
 * Runs a step holding the key directory's lock, `.keys.lock` in it, created exclusively: two
 * steps at once (two operators, jobs on two hosts sharing the keys volume) would each read the
 * files the other is replacing, and an activation could write the new key over previous.key,
 * losing the key tokens still out were signed with. The second is refused before it reads
 * anything, told who holds the lock. The lock is never taken over: a step stopped for a while
 * (Ctrl-Z, a paused VM) still holds it when it goes on, and one killed outright leaves it for the
 * operator to delete, as the refusal says. A directory not made yet (`keys init` makes it) holds
 * no lock: its files are created exclusively.
 */
async function withKeysLock<T>(dir: string, step: () => Promise<T>): Promise<T> {
  const path = resolve(dir);
  const made = await stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!made) return step();
  const lockPath = join(path, '.keys.lock');
  const holder = `pid ${process.pid} on ${hostname()} since ${new Date().toISOString()}`;
  let file: FileHandle;
  try {
    file = await open(lockPath, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const other = (lockText(lockPath) ?? '').trim();
    throw new UsageError(
      `another \`regauth keys\` step is running on ${path} (${other === '' ? 'its lock' : other}: ${lockPath}); ` +
        `if none is (one was killed), delete ${lockPath}; nothing was changed`,
    );
  }
  // Listed from its creation to its removal, so that a second Ctrl-C gives it back wherever it
  // comes (dropKeyLocks), its holder line still being written included.
  const held = { path: lockPath, holder };
  heldLocks.add(held);
  try {
    try {
      await file.writeFile(`${holder}\n`);
    } finally {
      await file.close();
    }
    return await step();
  } finally {
    releaseOwn(held);
    heldLocks.delete(held);
  }
}

/** The locks this process holds, for {@link dropKeyLocks}. */
const heldLocks = new Set<{ readonly path: string; readonly holder: string }>();

/**
 * Gives back, at once, the key-directory locks this process holds: for a step stopped by a second
 * Ctrl-C (src/cli/tools.ts), which ends the process before its step's own clean-up runs. What the
 * step left half done, the next step finds and says (or finishes, for an activation).
 */
export function dropKeyLocks(): void {
  for (const held of heldLocks) releaseOwn(held);
  heldLocks.clear();
}

/**
 * Removes a lock this process made, if it is still its own: its holder line, or the part of it
 * written so far (the lock was made exclusively, so a holder line cut short is its own too). A
 * lock deleted by hand meanwhile may be another step's by now, and is left.
 */
function releaseOwn({ path, holder }: { readonly path: string; readonly holder: string }): void {
  const text = lockText(path);
  if (text !== undefined && `${holder}\n`.startsWith(text)) rmSync(path, { force: true });
}

/**
 * A lock's text as its holder wrote it (its first 512 bytes): read from a regular file only,
 * never through a symlink (one planted in its place would have a step run as root print what it
 * points to) nor from a FIFO (which would hang the step); undefined for anything else. Read
 * synchronously: a second Ctrl-C gives the locks back just before the process exits.
 */
function lockText(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return undefined;
    const buffer = Buffer.alloc(512);
    return buffer.subarray(0, readSync(fd, buffer, 0, 512, 0)).toString('utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
