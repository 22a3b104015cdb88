/**
 * Found by a review of e82ca20 (src/cli/prompt.ts, edited()): TERM=dumb applies Backspace only.
 *
 * With TERM=dumb node's readline appends every byte but Enter, Ctrl-C and Ctrl-D to the answer.
 * e82ca20 applies DEL and BS afterwards, but not the terminal's other line-editing characters:
 * Ctrl-U (kill the line, VKILL) and Ctrl-W (erase a word, VWERASE), which a cooked terminal (and
 * every password prompt the user knows: passwd, htpasswd, sudo) applies. The test this commit
 * fixed named them ("Backspace (and Ctrl-Z, Ctrl-U…) is appended"). A user who starts again with
 * Ctrl-U gets the hash of "wrong\x15right": a password nobody can type at the registry's login
 * (or, with the confirmation typed plainly, "the two passwords differ").
 */
import bcrypt from 'bcryptjs';
import { beforeAll, expect, test } from 'vitest';
import { needTerminal, onTerminal, regauthLine as regauth, sleep } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('TERM=dumb: Ctrl-U starts the line again, it is not hashed as part of the password', async () => {
  const run = await onTerminal(regauth('hash --cost 4'), async ({ type, until }) => {
    await until('Password:');
    type('wrong\u0015right\r');
    await until('Again:');
    type('wrong\u0015right\r');
    await sleep(1500);
  });
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  // It is: exit 0 with the hash of "wrong\x15right"; "right" does not verify.
  expect({
    code: run.code,
    hashOfRight: printed !== undefined && bcrypt.compareSync('right', printed),
    hashOfKillChar: printed !== undefined && bcrypt.compareSync('wrong\u0015right', printed),
  }).toEqual({ code: 0, hashOfRight: true, hashOfKillChar: false });
}, 30_000);
