import { lstatSync, watch, type FSWatcher } from 'node:fs';
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
  let watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const changed = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };

  const stop = () => {
    for (const w of watchers) w.close();
    watchers = [];
  };

  return {
    watch(files) {
      stop();
      if (closed) return;
      const byDir = new Map<string, { names: Set<string>; kubernetes: boolean }>();
      const add = (path: string, kubernetes: boolean) => {
        const entry = byDir.get(dirname(path)) ?? { names: new Set<string>(), kubernetes: false };
        entry.names.add(basename(path));
        entry.kubernetes ||= kubernetes;
        byDir.set(dirname(path), entry);
      };
      for (const file of files) {
        const abs = resolve(file);
        add(abs, true);
        // A directory on the way that is a symlink (a release directory swapped in by a deploy
        // tool): the watch above follows it to its target, so watch the link's name too.
        for (const link of symlinkedAncestors(dirname(abs))) add(link, false);
      }
      for (const [dir, { names, kubernetes }] of byDir) {
        try {
          const w = watch(dir, { persistent: false }, (_event, filename) => {
            const name = filename?.toString();
            // No name (some platforms): assume it was ours.
            if (name === undefined || names.has(name) || (kubernetes && name.startsWith('..'))) changed();
          });
          w.on('error', (err) => options.onError?.(err));
          watchers.push(w);
        } catch (err) {
          // A directory that vanished: the next SIGHUP or reload reports the missing file.
          options.onError?.(err as Error);
        }
      }
    },
    close() {
      closed = true;
      clearTimeout(timer);
      stop();
    },
  };
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
