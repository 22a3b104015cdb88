/**
 * Found by a review of 9d75176 (src/cli/prompt.ts LineReader): CR and LF each end an answer, so an Enter
 * that arrives as CR LF (a password pasted with Windows line ends, a serial or telnet client
 * set to send CR LF) is two: the first answer, then an empty second one read at once as the
 * answer to `Again:` — the user never gets to type the confirmation and is told "the two
 * passwords differ". An empty answer at Again: can never be right (an empty first one is not asked
 * again); readpassphrase(3) stops at the CR and flushes the LF with the rest of the input.
 * (test/unit/cli-prompt-line-reader.test.ts pins 'a\r\nb\r' as ['a', '', 'b']: it would change.)
 */
import bcrypt from 'bcryptjs';
import { beforeAll, expect, test } from 'vitest';
import { needTerminal, onTerminal, regauthLine as regauth, sleep } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('xterm: a password pasted with CR LF, then typed again at Again:, is hashed', async () => {
  const run = await onTerminal(
    regauth('hash --cost 4'),
    async ({ type, until }) => {
      await until('Password:');
      type('crlf-password\r\n'); // one paste
      await until('Again:');
      await sleep(300);
      type('crlf-password\r');
      await sleep(1500);
      type('\u0003');
    },
    'xterm',
  );
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  // Fails now: exit 2, "regauth: the two passwords differ" before the second typing.
  expect({
    code: run.code,
    hashed: printed !== undefined && bcrypt.compareSync('crlf-password', printed),
    differ: run.screen.includes('differ'),
  }).toEqual({ code: 0, hashed: true, differ: false });
}, 30_000);
