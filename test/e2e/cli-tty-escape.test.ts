/**
 * Found by a review of 9d75176 (src/cli/prompt.ts LineReader#skip), end to end on script(1)'s terminal: the
 * key after a lone Esc is taken as the rest of an "Alt with a key" sequence whatever it is (see
 * test/unit/cli-prompt-escape-sequences.test.ts).
 *
 * - Esc then Ctrl-C: the Ctrl-C is swallowed and the prompt goes on asking (raw mode has ISIG
 *   off: Ctrl-C read here is the only way out).
 * - Esc then Left (rxvt's Alt-Left is the same bytes, ESC ESC [ D): "[D" is put into the first
 *   answer; typed the same at Again: without the stray Esc, "the two passwords differ", where
 *   docs/cli.md says arrow keys are ignored.
 */
import bcrypt from 'bcryptjs';
import { beforeAll, expect, test } from 'vitest';
import { needTerminal, onTerminal, regauthLine as regauth, sleep } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('xterm: Esc, then Ctrl-C at Password: cancels (exit 2)', async () => {
  let before = '';
  const run = await onTerminal(
    regauth('hash --cost 4'),
    async ({ screen, type, until }) => {
      await until('Password:');
      type('half\u001b'); // Esc
      await sleep(200);
      type('\u0003'); // Ctrl-C
      await sleep(1500);
      before = screen();
      type('\u0003'); // a second Ctrl-C, to end it now
    },
    'xterm',
  );
  // Fails now: nothing after "Password: " until the second Ctrl-C.
  expect(before).toContain('regauth: no password given: the prompt was cancelled');
  expect(run.code).toBe(2);
}, 30_000);

test('xterm: Esc, then Left does not put "[D" into the password', async () => {
  const run = await onTerminal(
    regauth('hash --cost 4'),
    async ({ type, until }) => {
      await until('Password:');
      type('esc-arrow');
      await sleep(100);
      type('\u001b'); // Esc
      await sleep(200);
      type('\u001b[D'); // Left
      await sleep(100);
      type('\r');
      await until('Again:');
      await sleep(300);
      type('esc-arrow\r');
      await sleep(1500);
      type('\u0003');
    },
    'xterm',
  );
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  // Fails now: exit 2, "regauth: the two passwords differ" (the first answer was "esc-arrow[D").
  expect({
    code: run.code,
    hashed: printed !== undefined && bcrypt.compareSync('esc-arrow', printed),
    differ: run.screen.includes('differ'),
  }).toEqual({ code: 0, hashed: true, differ: false });
}, 30_000);
