import { fstatSync, lstatSync, readlinkSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';

export interface ConfigWatcher {
  /** Watches this set of files from now on (after a reload, the config may name other files). */
  watch(files: readonly string[]): void;
  close(): void;
}

/**
 * File times come from the kernel's coarse clock, up to a few ticks behind Date.now(): a file
 * modified this close before a report counts as modified after it (one reload too many at worst).
 */
const COARSE_CLOCK_MS = 50;

/** How many re-arms failed watches may ask for in a row. */
const MAX_FAILURE_REARMS = 3;

/**
 * Calls `onChange` once the watched files have been quiet for `debounceMs` after a change.
 *
 * Editors and `kubectl`/ConfigMap updates replace a file by writing a new one and renaming it
 * over the old, which ends a watch on the file itself; so the *directories* are watched and
 * events are filtered by file name. Kubernetes swaps a `..data` symlink in the directory: any
 * `..`-prefixed name counts as a change too. The debounce folds an editor's multi-step save
 * (truncate, write, rename) into one reload. A directory on the path that is itself a symlink,
 * swapped by a deploy tool to point at another release, is seen through its parent; a directory
 * that does not exist (deleted, renamed away) is watched through its nearest existing ancestor,
 * for the name that leads back to it.
 *
 * Every re-arm makes new watches: one left on a directory that was deleted, or renamed away and
 * back, or that failed, would report nothing more.
 */
export function watchConfigFiles(
  onChange: () => void,
  options: {
    debounceMs?: number;
    onError?: (err: Error) => void;
    /**
     * `dev:ino` of files this process writes its output to (see outputFiles): a config naming one
     * by mistake would otherwise reload on every line its reload logs, for ever.
     */
    ownOutput?: ReadonlySet<string>;
  } = {},
): ConfigWatcher {
  const debounceMs = options.debounceMs ?? 300;
  const ownOutput = options.ownOutput ?? new Set<string>();
  const isOwnOutput = (file: string) => ownOutput.size > 0 && ownOutput.has(fileId(file) ?? '');
  let watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  /** The watched files, and what they were when a change was last reported (or watched). */
  let files: readonly string[] = [];
  let seen = new Map<string, string>();
  /** When a change was last reported (ms): a newly named file modified since may have been missed. */
  let reportedAt: number | undefined;
  /** Re-arms asked for by failed watches since a change was last seen. */
  let failures = 0;

  const changed = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      seen = fingerprints(files);
      reportedAt = Date.now();
      onChange();
    }, debounceMs);
  };

  const stop = () => {
    for (const w of watchers) w.close();
    watchers = [];
  };

  return {
    watch(next) {
      stop();
      if (closed) return;
      const byDir = new Map<string, { names: Set<string>; kubernetes: boolean }>();
      const add = (path: string, kubernetes: boolean) => {
        const entry = byDir.get(dirname(path)) ?? { names: new Set<string>(), kubernetes: false };
        entry.names.add(basename(path));
        entry.kubernetes ||= kubernetes;
        byDir.set(dirname(path), entry);
      };
      const watchPath = (abs: string, kubernetes: boolean) => {
        const dir = dirname(abs);
        if (nearestExisting(dir) === dir) add(abs, kubernetes);
        // The directory is gone: watch the first missing step from the nearest one there (through
        // a symlink whose target is gone, too).
        else for (const step of missingSteps(dir)) add(step, false);
        // A directory on the way that is a symlink (a release directory swapped in by a deploy
        // tool): the watch above follows it to its target, so watch the link's name too.
        for (const link of symlinkedAncestors(dir)) add(link, false);
      };
      for (const file of next) {
        const abs = resolve(file);
        watchPath(abs, true);
        // A file that is a symlink (a config directory linking into the key directory, or into a
        // secrets mount): its target is replaced in its own directory (`keys activate` renames
        // there), which a watch on the link's directory never hears of.
        for (const target of linkTargets(abs)) watchPath(target, false);
      }
      for (const [dir, { names, kubernetes }] of byDir) {
        const id = fileId(dir);
        try {
          const w = watch(dir, { persistent: false }, (_event, filename) => {
            const name = filename?.toString();
            // No name (some platforms): assume it was ours.
            if (name === undefined || names.has(name) || (kubernetes && name.startsWith('..'))) {
              if (name !== undefined && isOwnOutput(join(dir, name))) return;
              failures = 0;
              changed();
            }
            // The directory itself moved away or went (the watch follows it, or is dead): a
            // reload re-arms on what is at the path now. A neighbour of the same name is not it.
            else if (name === basename(dir) && fileId(dir) !== id) changed();
          });
          // node has closed a watch that failed: a reload re-arms with a new one.
          w.on('error', (err) => {
            options.onError?.(err);
            // A few re-arms in a row, not one per debounce forever when each new watch fails too.
            if (failures < MAX_FAILURE_REARMS) {
              failures++;
              changed();
            }
          });
          watchers.push(w);
        } catch (err) {
          // A directory that vanished meanwhile: the next SIGHUP or reload reports the missing file.
          options.onError?.(err as Error);
        }
      }
      // With the new watches in place: a file that changed since the change was last reported
      // (written while the reload loaded it, or while the watches were being replaced) is
      // reported again.
      // A file the new config names for the first time has no fingerprint from then: one modified
      // since the report (saved after the reload read it) is reported too.
      const drifted = (f: string) =>
        isOwnOutput(f)
          ? false
          : seen.has(f)
            ? fingerprint(f) !== seen.get(f)
            : reportedAt !== undefined && modifiedMs(f) > reportedAt - COARSE_CLOCK_MS;
      if ([...new Set([...files, ...next])].some(drifted)) changed();
      files = next;
      for (const f of next) if (!seen.has(f)) seen.set(f, fingerprint(f));
    },
    close() {
      closed = true;
      clearTimeout(timer);
      stop();
    },
  };
}

/**
 * What a file is now: inode, size and times; "-" when it cannot be read. A directory where a
 * file is named (a refused config's mistake) is its inode alone: the entries made and removed in
 * it move its times, and never make it a file that loads.
 */
function fingerprint(file: string): string {
  try {
    const s = statSync(file, { bigint: true });
    if (s.isDirectory()) return `dir:${s.ino}`;
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return '-';
  }
}

function modifiedMs(file: string): number {
  try {
    const s = statSync(file);
    return s.isDirectory() ? 0 : s.mtimeMs;
  } catch {
    return 0;
  }
}

function fingerprints(files: readonly string[]): Map<string, string> {
  return new Map(files.map((f) => [f, fingerprint(f)]));
}

/** `dev:ino` of what is at the path (a directory, a file), or undefined when there is nothing. */
function fileId(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * For a directory that does not exist: the first missing step below its nearest existing
 * ancestor, and, where a step is a symlink whose target is gone, the same for the target.
 */
function missingSteps(dir: string, depth = 0): string[] {
  const existing = nearestExisting(dir);
  if (existing === undefined || existing === dir) return [];
  const step = join(existing, relative(existing, dir).split(sep)[0]!);
  const steps = [step];
  for (let p = dir; depth < 8 && dirname(p) !== p; p = dirname(p)) {
    try {
      if (!lstatSync(p).isSymbolicLink()) continue;
      // Relative to where the link really is (its parent may be reached through other links).
      const target = resolve(realpathSync(dirname(p)), readlinkSync(p));
      steps.push(...missingSteps(join(target, relative(p, dir)), depth + 1));
      break;
    } catch {
      // Not there at all: nothing to follow.
    }
  }
  return steps;
}

/** `dir` itself when it is a directory, else the nearest ancestor that is (undefined: none). */
function nearestExisting(dir: string): string | undefined {
  for (let p = dir; ; p = dirname(p)) {
    try {
      if (statSync(p).isDirectory()) return p;
    } catch {
      // Missing (or unreadable): look further up.
    }
    if (dirname(p) === p) return undefined;
  }
}

/** Where a symbolic link at `path` leads, hop by hop (none when it is no link). */
function linkTargets(path: string): string[] {
  const targets: string[] = [];
  // A bound: a loop of links leads nowhere, and the load that follows refuses the file.
  for (let p = path; targets.length < 8;) {
    try {
      if (!lstatSync(p).isSymbolicLink()) break;
      // Relative to where the link really is (its directory may be reached through other links).
      p = resolve(realpathSync(dirname(p)), readlinkSync(p));
      targets.push(p);
    } catch {
      // Gone or unreadable: the reload that follows reports the file.
      break;
    }
  }
  return targets;
}

/** `dir` and its ancestors that are symbolic links, nearest first. */
function symlinkedAncestors(dir: string): string[] {
  const links: string[] = [];
  for (let p = dir; dirname(p) !== p; p = dirname(p)) {
    try {
      if (lstatSync(p).isSymbolicLink()) links.push(p);
    } catch {
      // Gone or unreadable: the reload that follows reports the config file itself.
    }
  }
  return links;
}

/**
 * `dev:ino` of the regular files this process's stdout and stderr write to (`regauth serve >>
 * /var/log/regauth.log`), for watchConfigFiles' `ownOutput`.
 */
export function outputFiles(fds: readonly number[] = [1, 2]): Set<string> {
  const ids = new Set<string>();
  for (const fd of fds) {
    try {
      const st = fstatSync(fd, { bigint: true });
      if (st.isFile()) ids.add(`${st.dev}:${st.ino}`);
    } catch {
      // Closed: nothing written there.
    }
  }
  return ids;
}
