import { lstatSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export interface ConfigWatcher {
  /** Watches this set of files from now on (after a reload, the config may name other files). */
  watch(files: readonly string[]): void;
  close(): void;
}

/**
 * Calls `onChange` once the watched files have been quiet for `debounceMs` after a change.
 *
 * Editors and `kubectl`/ConfigMap updates replace a file by writing a new one and renaming it
 * over the old, which ends a watch on the file itself; so the *directories* are watched and
 * events are filtered by file name. Kubernetes swaps a `..data` symlink in the directory: any
 * `..`-prefixed name counts as a change too. The debounce folds an editor's multi-step save
 * (truncate, write, rename) into one reload. A directory on the path that is itself a symlink,
 * swapped by a deploy tool to point at another release, is seen through its parent.
 */
export function watchConfigFiles(
  onChange: () => void,
  options: { debounceMs?: number; onError?: (err: Error) => void } = {},
): ConfigWatcher {
  const debounceMs = options.debounceMs ?? 300;
  /** One watch per directory; kept across re-arms while the directory is still the same one. */
  const watchers = new Map<string, Watched>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const changed = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };

  const stop = (dir: string) => {
    watchers.get(dir)?.watcher.close();
    watchers.delete(dir);
  };

  return {
    watch(files) {
      if (closed) return;
      const wanted = new Map<string, { names: Set<string>; kubernetes: boolean }>();
      const add = (path: string, kubernetes: boolean) => {
        const entry = wanted.get(dirname(path)) ?? { names: new Set<string>(), kubernetes: false };
        entry.names.add(basename(path));
        entry.kubernetes ||= kubernetes;
        wanted.set(dirname(path), entry);
      };
      for (const file of files) {
        const abs = resolve(file);
        add(abs, true);
        // A directory on the way that is a symlink (a release directory swapped in by a deploy
        // tool): the watch above follows it to its target, so watch the link's name too.
        for (const link of symlinkedAncestors(dirname(abs))) add(link, false);
      }
      for (const dir of [...watchers.keys()]) if (!wanted.has(dir)) stop(dir);
      for (const [dir, { names, kubernetes }] of wanted) {
        const target = directoryId(dir);
        const kept = watchers.get(dir);
        // The same directory as before (device and inode: a directory deleted and made again at
        // the same path is another one, and the old watch is dead): keep its watch, so a change it
        // has seen but not yet reported (one written while a reload loaded) is not dropped with it.
        if (kept && target !== undefined && kept.target === target) {
          kept.names = names;
          kept.kubernetes = kubernetes;
          continue;
        }
        stop(dir);
        try {
          const watched: Watched = { names, kubernetes, target, watcher: undefined as unknown as FSWatcher };
          watched.watcher = watch(dir, { persistent: false }, (_event, filename) => {
            const name = filename?.toString();
            if (name === basename(dir) && !watched.names.has(name)) {
              // The directory itself went (deleted, or renamed away): this watch reports nothing
              // more, even if a new directory takes the path (possibly with the same inode). Drop
              // it; the reload re-arms with a new one.
              watched.watcher.close();
              if (watchers.get(dir) === watched) watchers.delete(dir);
              changed();
              return;
            }
            // No name (some platforms): assume it was ours.
            if (
              name === undefined ||
              watched.names.has(name) ||
              (watched.kubernetes && name.startsWith('..'))
            )
              changed();
          });
          watched.watcher.on('error', (err) => {
            // node has closed it: the next re-arm makes a new one.
            if (watchers.get(dir) === watched) watchers.delete(dir);
            options.onError?.(err);
          });
          watchers.set(dir, watched);
        } catch (err) {
          // A directory that vanished: the next SIGHUP or reload reports the missing file.
          options.onError?.(err as Error);
        }
      }
    },
    close() {
      closed = true;
      clearTimeout(timer);
      for (const dir of [...watchers.keys()]) stop(dir);
    },
  };
}

interface Watched {
  watcher: FSWatcher;
  /** The directory the watch follows (symlinks followed), as `device:inode` when it was made. */
  readonly target: string | undefined;
  names: Set<string>;
  kubernetes: boolean;
}

function directoryId(dir: string): string | undefined {
  try {
    const stats = statSync(dir, { bigint: true });
    return `${stats.dev}:${stats.ino}`;
  } catch {
    return undefined;
  }
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
