/**
 * Found by a review of fbd7b2d ("Keep echo off with stderr redirected; refuse Ctrl-D and bad bytes"):
 * src/cli/prompt.ts now asks on node's readline (terminal mode), one Interface per answer.
 *
 * - TERM=dumb: readline's dumb mode appends Backspace (and Ctrl-Z, Ctrl-U…) to the answer (npm's read
 *   did the same; the rewrite kept it).
 *
 * Runs the built CLI on script(1)'s pseudo-terminal, as test/e2e/cli-tty-edge.test.ts does.
 */
import bcrypt from 'bcryptjs';
import { beforeAll, expect, test } from 'vitest';
import { needTerminal, onTerminal, regauthLine as regauth } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('TERM=dumb: Backspace edits the typed password, it is not hashed as a DEL character', async () => {
  // node's readline in a dumb terminal (TERM=dumb) handles only Enter, Ctrl-C and Ctrl-D: every
  // other byte, Backspace (0x7f) included, is appended to the answer. The user fixes a typo, and
  // the hash printed is of "abcx\x7f", a password nobody can type at the registry's login.
  const run = await onTerminal(regauth('hash --cost 4'), async ({ type, until }) => {
    await until('Password:');
    type('abcx\u007f\r');
    await until('Again:');
    type('abcx\u007f\r');
  });
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  expect({
    code: run.code,
    hashOfTypo: printed !== undefined && bcrypt.compareSync('abcx\u007f', printed),
  }).not.toEqual({ code: 0, hashOfTypo: true });
}, 30_000);
