/**
 * Found by a review of 9d75176 (src/cli/prompt.ts ask()): the typed answer is decoded with
 * `new TextDecoder('utf-8', { fatal: true })`, whose default (ignoreBOM: false) strips a leading
 * U+FEFF. A password that starts with one (a zero-width no-break space pasted along with it from a
 * web page or a document) is hashed, and for `check --password-stdin` checked, WITHOUT it, while
 * the piped path (processIO.readStdin, Buffer#toString) and the token endpoint
 * (src/request/basic.ts) keep it: `regauth hash` prints a hash that the password actually sent by
 * `docker login` does not match, and says nothing.
 */
import { spawnSync } from 'node:child_process';
import bcrypt from 'bcryptjs';
import { beforeAll, expect, test } from 'vitest';
import { CLI, needTerminal, onTerminal, regauthLine as regauth, sleep } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

const PASSWORD = '\uFEFFbom-password';
const TYPED = Buffer.from(PASSWORD, 'utf8').toString('latin1'); // the harness types latin1

test('piped: a leading U+FEFF is part of the password (the reference)', () => {
  const piped = spawnSync(process.execPath, [CLI, 'hash', '--cost', '4'], {
    input: PASSWORD,
    encoding: 'utf8',
  });
  expect(piped.status).toBe(0);
  expect(bcrypt.compareSync(PASSWORD, piped.stdout.trim())).toBe(true);
});

test('typed: a leading U+FEFF is hashed too, as the piped path and the token endpoint read it', async () => {
  const run = await onTerminal(
    regauth('hash --cost 4'),
    async ({ type, until }) => {
      await until('Password:');
      type(`${TYPED}\r`);
      await until('Again:');
      await sleep(300);
      type(`${TYPED}\r`);
      await sleep(1500);
    },
    'xterm',
  );
  expect(run.code).toBe(0);
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)![0];
  // Fails now: the hash is of "bom-password", the U+FEFF dropped.
  expect({
    withBom: bcrypt.compareSync(PASSWORD, printed),
    withoutBom: bcrypt.compareSync('bom-password', printed),
  }).toEqual({ withBom: true, withoutBom: false });
}, 30_000);
