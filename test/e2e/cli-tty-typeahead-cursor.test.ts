/**
 * Found by a review of 79d8f1a (src/cli/prompt.ts ask()): `rl.prompt()` is still called for each
 * answer, and readline's prompt() without `preserveCursor` moves the cursor to the start of the
 * line. When part of the second answer arrived in the same read as the first (the case 79d8f1a is
 * about: an auto-type or fast typing coalesced into one read, keys typed while node was starting),
 * that part is already in the line when `Again:` is asked; the keys typed after it are inserted
 * BEFORE it. "secret⏎sec" then "r","e","t","⏎" gives "retsec": a correctly typed password is
 * refused as "the two passwords differ".
 */
import bcrypt from 'bcryptjs';
import { beforeAll, expect, test } from 'vitest';
import { needTerminal, onTerminal, regauthLine as regauth, sleep } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('xterm: the rest of a second answer typed after Again: goes after its typed-ahead part', async () => {
  const password = 'pw-typed-ahead';
  const run = await onTerminal(
    regauth('hash --cost 4'),
    async ({ type, until }) => {
      await until('Password:');
      type(`${password}\rpw-typed`); // one read: the first answer and the start of the second
      await until('Again:');
      await sleep(300);
      for (const key of '-ahead\r') {
        type(key); // typed by hand: one key a read
        await sleep(40);
      }
    },
    'xterm',
  );
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  // Fails now: exit 2, "regauth: the two passwords differ" (the second answer read "-aheadpw-typed").
  expect({
    code: run.code,
    hashed: printed !== undefined && bcrypt.compareSync(password, printed),
    differ: run.screen.includes('differ'),
  }).toEqual({ code: 0, hashed: true, differ: false });
  expect(run.screen).not.toContain('typed');
}, 30_000);
