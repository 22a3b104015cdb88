import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { loadExtCommand } from '../../src/ext/config.js';
import { tempDir } from '../helpers/fixtures.js';

// Found by a review of ext_auth and ext_authz (low): ExtCommandConfig.command is documented as the "Absolute path of the
// executable", but a command name found through a relative PATH entry ("bin", ".") is kept
// relative ("bin/tool.sh", or a bare "tool.sh" for "."), so every spawn resolves it again against
// regauth's working directory (and, for ".", searches PATH again at run time). Go's exec.LookPath,
// which docker_auth validates with, refuses such results since Go 1.19 (exec.ErrDot). Fix: resolve
// each PATH entry to an absolute path (or skip relative entries, as Go does) before the lookup.
const tmp = tempDir('regauth-review-ext-path-');
afterAll(() => tmp.cleanup());

test('a command found through a relative PATH entry is stored as an absolute path (or refused)', () => {
  mkdirSync(join(tmp.dir, 'bin'));
  const tool = join(tmp.dir, 'bin', 'review-ext-tool.sh');
  writeFileSync(tool, '#!/bin/sh\nexit 0\n');
  chmodSync(tool, 0o755);
  // A relative PATH entry (as "bin" would be, seen from regauth's working directory).
  const entry = relative(process.cwd(), join(tmp.dir, 'bin'));
  {
    let command: string | undefined;
    try {
      command = loadExtCommand(
        'ext_auth',
        { command: 'review-ext-tool.sh', args: [], timeout: 5, max_concurrency: 8 },
        '/',
        entry,
      ).command;
    } catch {
      return; // refused, as Go's LookPath does: fine
    }
    expect(isAbsolute(command)).toBe(true);
  }
});
