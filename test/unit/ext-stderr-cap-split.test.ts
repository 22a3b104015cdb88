/**
 * Found by a review of the external-program backends.
 * docs/backends/ext.md "stderr" and docs/security.md "Passwords": the password a
 * run was given is replaced by `[redacted]` wherever the command wrote it on stderr; only a
 * password the script changed (beyond what a shell's `read` does) may be logged.
 *
 * spawnRunner keeps stderr in whole chunks up to 64 KiB and drops the rest; the blanking
 * happens after, on what was kept. A script that wrote the password unchanged across that cut
 * (a chatty script, `set -x`, a stack trace after a long dump) has its head logged: the
 * password's first characters no longer match the whole password, so nothing is blanked out.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ExtAuthenticator } from '../../src/authn/ext.js';
import { createLogger } from '../../src/core/log.js';
import { Secret } from '../../src/core/secret.js';
import { tempDir } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-review-ext-cap-');
afterAll(() => tmp.cleanup());

test('a password the command echoed unchanged across the 64 KiB stderr cut is not logged in part', async () => {
  // "started", 65,508 newlines (blank lines, dropped from the log) then "pw=<password>" in one
  // write: the pipe holds 64 KiB, so the first read ends 17 characters into the password.
  const script = join(tmp.dir, 'chatty.js');
  writeFileSync(
    script,
    [
      `#!${process.execPath}`,
      "const { readFileSync, writeSync } = require('node:fs');",
      "const input = readFileSync(0, 'utf8');",
      "const password = input.slice(input.indexOf(' ') + 1);",
      "const text = 'started\\n' + '\\n'.repeat(65508) + 'pw=' + password + '\\n';",
      '// One write, as a script echoing a long text does.',
      'writeSync(2, text);',
      'process.exit(1);',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const log = logSink();
  const authn = new ExtAuthenticator(
    { command: script, args: [], timeoutMs: 5000, maxConcurrency: 1, maxPerClient: 1 },
    undefined,
    createLogger({ destination: log.stream }),
  );
  const password = randomBytes(24).toString('hex');
  await expect(
    authn.authenticate({ account: 'alice', password: new Secret(password) }),
  ).resolves.toMatchObject({
    outcome: 'denied',
  });
  await expect.poll(() => log.lines.length).toBeGreaterThan(0);
  const text = log.lines.join('\n');
  // The run wrote on stderr, and what came before the cut is logged...
  expect(text).toContain('ext_auth command wrote on stderr');
  expect(text).toContain('started');
  // ...but no piece of the password it was given.
  expect(text).not.toContain(password.slice(0, 12));
});
