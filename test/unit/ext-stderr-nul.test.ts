/**
 * Found by a review of what regauth logs (audit line, app log, metrics).
 *
 * docs/backends/ext.md "stderr" and docs/security.md "Passwords": the password a
 * run was given is replaced by `[redacted]` on stderr "as given, each of its lines, and each as
 * a shell's `read` passes it on"; only a password a script changed beyond what `read` does may
 * be logged. `read` (dash's and bash's, with or without -r) also drops every NUL byte of the
 * line it reads, and a password may hold one (Basic credentials and `%00` in a form both carry
 * it). blankOut (src/ext/command.ts) looks for the password with its NUL, so a script that reads
 * its input with `read` and echoes the password on stderr gets it logged, all but that byte.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ExtAuthenticator } from '../../src/authn/ext.js';
import { createLogger } from '../../src/core/log.js';
import { Secret } from '../../src/core/secret.js';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-review-logs-nul-');
afterAll(() => tmp.cleanup());

test.each([
  ['read without -r', ''],
  ['read -r', '-r '],
])('a password holding a NUL byte is blanked out as %s passes it on', async (_name, flags) => {
  const script = join(tmp.dir, `read${flags.trim()}.sh`);
  writeFileSync(
    script,
    `#!/bin/sh\nread ${flags}account password\necho "got password $password" >&2\nexit 1\n`,
    {
      mode: 0o755,
    },
  );
  const log = logSink();
  const authn = new ExtAuthenticator(
    { command: script, args: [], timeoutMs: 5000, maxConcurrency: 1, maxPerClient: 1 },
    undefined,
    createLogger({ destination: log.stream }),
  );
  const core = randomPassword();
  const password = `${core.slice(0, 6)}\u0000${core.slice(6)}`;
  await expect(
    authn.authenticate({ account: 'alice', password: new Secret(password) }),
  ).resolves.toMatchObject({
    outcome: 'denied',
  });
  await expect.poll(() => log.lines.some((l) => l.includes('wrote on stderr'))).toBe(true);
  const entry = log.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => 'stderr' in l);
  // Today: ["got password <the password without its NUL>"]
  expect(entry!['stderr']).toEqual(['got password [redacted]']);
  expect(log.lines.join('\n')).not.toContain(core.slice(6));
});
