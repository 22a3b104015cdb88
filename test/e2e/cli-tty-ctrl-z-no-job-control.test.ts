/**
 * Found by a review of e82ca20 (src/cli/prompt.ts): Ctrl-Z where nothing can stop the process.
 *
 * readline's own Ctrl-Z handling (no 'SIGTSTP' listener on the Interface) turns raw mode OFF and
 * sends itself SIGTSTP, relying on SIGCONT to turn it back on. Where the process cannot be
 * stopped, the SIGTSTP is discarded and no SIGCONT ever comes: in an orphaned process group
 * (no job-control shell: `ssh -t host regauth hash`, `script -c`), and as PID 1 in a container
 * (`docker run --rm -it regauth hash`, docs/deployment.md; the image's ENTRYPOINT is node). The
 * terminal is then left in cooked mode with ECHO on for the rest of the prompt: whatever the user
 * types next (the rest of the password, the confirmation) is shown in clear on the screen.
 *
 * Here the CLI runs directly under script(1) (sh -c, no job control: an orphaned process group,
 * where Linux discards SIGTSTP exactly as for a container's PID 1).
 */
import bcrypt from 'bcryptjs';
import { beforeAll, expect, test } from 'vitest';
import { needTerminal, onTerminal, regauthLine as regauth, sleep } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('Ctrl-Z where the process cannot be stopped: what is typed next is not echoed in clear', async () => {
  const run = await onTerminal(
    regauth('hash --cost 4'),
    async ({ type, until }) => {
      await until('Password:');
      type('abc');
      await sleep(200);
      type('\u001a'); // Ctrl-Z: readline turns echo back on and sends SIGTSTP, which is discarded
      await sleep(500);
      type('SECRETREST\r');
      await sleep(500);
      type('abcSECRETREST\r');
      await sleep(1500);
    },
    'xterm',
  );
  // It was: "SECRETREST" and "abcSECRETREST" appeared on the screen, echoed by the terminal.
  expect(run.screen).not.toContain('SECRETREST');
  // Ctrl-Z was ignored: the two answers are the same password, and its hash is printed.
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  expect(printed !== undefined && bcrypt.compareSync('abcSECRETREST', printed)).toBe(true);
}, 30_000);
