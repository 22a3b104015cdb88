/**
 * Found by a review of fbd7b2d ("Keep echo off with stderr redirected; refuse Ctrl-D and bad bytes"):
 * src/cli/prompt.ts now asks on node's readline (terminal mode), one Interface per answer.
 *
 * - Both answers arriving in one read (a paste of "pw⏎pw⏎", a password manager's auto-type, an
 *   expect script that does not wait): the first Interface emits 'line' for both, the second
 *   answer is dropped with it when it closes, and "Again:" waits for an answer already given.
 *   A terminal in cooked mode (htpasswd, passwd) keeps type-ahead for the next read.
 *
 * Runs the built CLI on script(1)'s pseudo-terminal, as test/e2e/cli-tty-edge.test.ts does.
 */
import bcrypt from 'bcryptjs';
import { beforeAll, expect, test } from 'vitest';
import { needTerminal, onTerminal, regauthLine as regauth } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('both answers typed ahead in one go ("pw⏎pw⏎"): the second is not dropped, hash prints', async () => {
  const password = 'typed-ahead-twice';
  const run = await onTerminal(regauth('hash --cost 4'), async ({ type, until }) => {
    await until('Password:');
    type(`${password}\r${password}\r`);
  });
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  // It was: "Again:" shown, then nothing until the 15 s kill (code null).
  expect({ code: run.code, hashed: printed !== undefined && bcrypt.compareSync(password, printed) }).toEqual({
    code: 0,
    hashed: true,
  });
}, 30_000);
