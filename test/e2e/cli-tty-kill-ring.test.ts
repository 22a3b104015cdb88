/**
 * Found by a review of 79d8f1a (src/cli/prompt.ts, then on readline): the two answers share one readline Interface,
 * and with it readline's kill ring (node 20 has Ctrl-U/Ctrl-K kill, Ctrl-Y yank). Text killed while
 * typing the first answer is yanked back by Ctrl-Y at `Again:`: the confirmation passes without the
 * password being typed a second time, as Up did before history was turned off (cli-tty-history).
 * Here: "secret", Ctrl-U (start the line again), "secret", Enter; at Again: Ctrl-Y, Enter.
 */
import { beforeAll, expect, test } from 'vitest';
import { needTerminal, onTerminal, regauthLine as regauth, sleep } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('xterm: Ctrl-Y at Again: does not bring back text killed in the first answer', async () => {
  const run = await onTerminal(
    regauth('hash --cost 4'),
    async ({ type, until }) => {
      await until('Password:');
      type('kill-ring-secret\u0015kill-ring-secret\r'); // Ctrl-U between two typings
      await until('Again:');
      await sleep(300);
      type('\u0019\r'); // Ctrl-Y, Enter
      await sleep(1000);
      type('\u0003'); // if it is still asking: Ctrl-C
    },
    'xterm',
  );
  // Fails now: exit 0 and a hash of "kill-ring-secret", confirmed by nothing typed.
  expect(run.screen).not.toMatch(/\$2b\$04\$/);
  expect(run.code).toBe(2);
}, 30_000);
