import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  mkdirSync,
  openSync,
  statSync,
  type Stats,
} from 'node:fs';
import { chmod, mkdir, open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/*
 * `mkdir -p` without node's `mkdir(path, { recursive: true })`: under /proc that never returns
 * (procfs answers ENOENT to mkdir of a missing entry and node retries the parent forever, at
 * 100% CPU). Here the missing components are found by stat, walking up to the nearest existing
 * ancestor, and each is created once, downward, with a plain mkdir: every step either succeeds
 * or fails with an error naming the directory.
 */

/** `cannot create directory /proc/nope: ENOENT`, keeping the system error's code and syscall. */
function cannotCreate(dir: string, err: unknown): NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  return Object.assign(new Error(`cannot create directory ${dir}: ${code}`, { cause: err }), {
    code,
    syscall: 'mkdir',
    path: dir,
  });
}

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** A failed stat of `dir`: undefined when it does not exist; else (EACCES…) the error for `target`. */
function absent(target: string, err: unknown): undefined {
  if (codeOf(err) === 'ENOENT') return undefined;
  throw cannotCreate(target, err);
}

/**
 * One step of the walk up from `target`: true when `dir` is missing (create it, look at its
 * parent), false at the nearest existing directory; throws when `target` is a file.
 */
function isMissing(target: string, dir: string, stats: Stats | undefined): boolean {
  if (stats === undefined) return dirname(dir) !== dir;
  if (stats.isDirectory()) return false;
  // Only `target` itself can be a file here: stat through a file fails with ENOTDIR above.
  throw cannotCreate(dir, Object.assign(new Error('file exists'), { code: 'EEXIST' }));
}

/**
 * The directories `makeDirectory(path)` would create, top first (what a caller may want to undo
 * or chmod afterwards). Throws as makeDirectory does for a file in the way.
 */
export async function missingDirectories(path: string): Promise<string[]> {
  const target = resolve(path);
  const dirs: string[] = [];
  for (let dir = target; ; dir = dirname(dir)) {
    const stats = await stat(dir).catch((err: unknown) => absent(target, err));
    if (!isMissing(target, dir, stats)) return dirs;
    dirs.unshift(dir);
  }
}

function missingSync(path: string): string[] {
  const target = resolve(path);
  const dirs: string[] = [];
  for (let dir = target; ; dir = dirname(dir)) {
    let stats: Stats | undefined;
    try {
      stats = statSync(dir);
    } catch (err) {
      stats = absent(target, err);
    }
    if (!isMissing(target, dir, stats)) return dirs;
    dirs.unshift(dir);
  }
}

/** EEXIST for a directory: another process made it meanwhile, which is what we wanted. */
function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Creates `path` and its missing parents (each with `mode`), like `mkdir -p`. */
export async function makeDirectory(path: string, mode?: number): Promise<void> {
  for (const dir of await missingDirectories(path)) {
    try {
      await mkdir(dir, mode === undefined ? {} : { mode });
    } catch (err) {
      if (codeOf(err) === 'EEXIST' && isDirectory(dir)) continue;
      throw cannotCreate(dir, err);
    }
  }
}

/** A directory just made that cannot be opened to set its mode: gone, or another thing now. */
function cannotSetMode(dir: string, err: unknown): NodeJS.ErrnoException {
  const code = codeOf(err) ?? 'EIO';
  const gone = code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT';
  return Object.assign(
    new Error(
      `cannot set the mode of ${dir}: ${code}${gone ? ' (it is no longer the directory just made)' : ''}`,
      { cause: err },
    ),
    { code, syscall: 'open', path: dir },
  );
}

/**
 * Gives a directory this process has just made exactly `mode` (the umask may have taken bits
 * from it), through a handle opened without following a symlink: one put in its place meanwhile
 * by someone who can write in its parent is refused, not followed to a directory elsewhere. A
 * directory its owner may not read (made under a umask such as 0477) cannot be opened so, and
 * goes by name.
 */
export async function chmodDirectory(dir: string, mode: number): Promise<void> {
  let handle;
  try {
    handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    if (codeOf(err) === 'EACCES') return chmod(dir, mode);
    throw cannotSetMode(dir, err);
  }
  try {
    // Only when it lacks it: a directory made with its mode may belong to another uid (an NFS
    // export squashing owners), which may not chmod it.
    if (((await handle.stat()).mode & 0o7777) !== mode) await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/** The synchronous {@link makeDirectory}, for the config loader. */
export function makeDirectorySync(path: string, mode?: number): void {
  for (const dir of missingSync(path)) {
    try {
      mkdirSync(dir, mode === undefined ? {} : { mode });
    } catch (err) {
      if (codeOf(err) === 'EEXIST' && isDirectory(dir)) continue;
      throw cannotCreate(dir, err);
    }
  }
}

/** The synchronous {@link chmodDirectory}. */
function chmodDirectorySync(dir: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    if (codeOf(err) === 'EACCES') return chmodSync(dir, mode);
    throw cannotSetMode(dir, err);
  }
  try {
    if ((fstatSync(fd).mode & 0o7777) !== mode) fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

/**
 * `regauth serve`'s data directory (its development key, certificate and refresh secret): it and
 * each missing parent 0755 whatever the umask (each given its mode before the next is made in
 * it); directories already there are left alone. Under a umask of 000 they would be 0777, where
 * anyone could swap the key or the secret for their own; 0755 lets the registry, run as another
 * user, read the certificate it is told to trust there (the key and the secret are 0600).
 */
export function makeDataDirectorySync(path: string): void {
  for (const dir of missingSync(resolve(path))) {
    makeDirectorySync(dir, 0o755);
    chmodDirectorySync(dir, 0o755);
  }
}
