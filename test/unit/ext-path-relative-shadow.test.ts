import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { loadExtCommand } from '../../src/ext/config.js';
import { tempDir } from '../helpers/fixtures.js';

// Found by a review of 579e4c7 ("Look an ext command up in PATH's absolute directories only").
// docs/backends/ext.md now says a name is looked up "in the absolute directories of PATH only, as
// Go's LookPath does since Go 1.19". Go does not skip a relative entry: lookpath_unix.go walks
// PATH in order and, at the FIRST entry holding the executable, returns exec.ErrDot when that
// entry is relative ("" and "." included). Checked with Go: PATH=rel:/abs, both holding tool-x,
// gives `exec: "tool-x": cannot run executable found relative to current directory`, so
// docker_auth's ExtAuthConfig.Validate refuses the config. regauth skips `rel` and silently takes
// /abs/tool-x: a program other than the one PATH's order (and a shell) selects, where docker_auth
// refuses to start. Passes when regauth refuses (as Go) or runs the first match, made absolute.
const tmp = tempDir('regauth-review-ext2-path-');
afterAll(() => tmp.cleanup());

test('a command found first through a relative PATH entry is not replaced by a later absolute one', () => {
  const tool = (dir: string) => {
    mkdirSync(join(tmp.dir, dir));
    const path = join(tmp.dir, dir, 'review-ext2-tool');
    writeFileSync(path, '#!/bin/sh\nexit 0\n');
    chmodSync(path, 0o755);
    return path;
  };
  const first = tool('rel');
  const later = tool('abs');
  const pathEnv = `${relative(process.cwd(), join(tmp.dir, 'rel'))}:${join(tmp.dir, 'abs')}`;
  let command: string | undefined;
  try {
    command = loadExtCommand(
      'ext_auth',
      { command: 'review-ext2-tool', args: [], timeout: 5, max_concurrency: 8 },
      '/',
      pathEnv,
    ).command;
  } catch {
    return; // refused, as Go's LookPath (exec.ErrDot) refuses it
  }
  expect(command).not.toBe(later);
  expect(command).toBe(first);
});
