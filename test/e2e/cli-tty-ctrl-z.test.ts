/**
 * Found by a review of fbd7b2d ("Keep echo off with stderr redirected; refuse Ctrl-D and bad bytes"):
 * src/cli/prompt.ts now asks on node's readline (terminal mode), one Interface per answer.
 *
 * - Ctrl-Z at the prompt, then `fg`: readline's own Ctrl-Z handling (no 'SIGTSTP' listener) stops
 *   the process, and on SIGCONT *pauses* the Interface ("Stream must be paused and resumed"),
 *   which ask() never resumes. stdin paused, nothing else pending: node ends with 13 (unsettled
 *   top-level await), silently, the way the commit says Ctrl-D used to. What the user goes on
 *   typing (the rest of the password and Enter) reaches the shell.
 *
 * Runs the built CLI on script(1)'s pseudo-terminal, as test/e2e/cli-tty-edge.test.ts does.
 */
import bcrypt from 'bcryptjs';
import { beforeAll, expect, test } from 'vitest';
import { needTerminal, onTerminal, regauthLine as regauth, sleep } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('Ctrl-Z at the prompt is ignored: the prompt goes on, nothing reaches the shell', async () => {
  // An interactive bash with job control on the terminal, as an operator's shell. (Ctrl-Z used to
  // stop regauth, and `fg` then ended it with exit 13; where nothing can stop it, the rest of the
  // password was echoed: test/e2e/cli-tty-ctrl-z-no-job-control.test.ts.)
  const password = 'suspend-and-resume';
  const run = await onTerminal(
    `PS1='PROMPT$ ' HISTFILE=/dev/null bash --norc --noprofile -i`,
    async ({ type, until }) => {
      await until('PROMPT$ ');
      type(`${regauth('hash --cost 4')}\r`);
      await until('Password:');
      type('suspend-');
      await sleep(200);
      type('\u001a'); // Ctrl-Z
      await sleep(500);
      type('and-resume\r'); // the rest of the password, as the user goes on typing
      await until('Again:');
      type(`${password}\r`);
      await sleep(1500);
      type('exit\r');
    },
    // Not dumb: node's readline handles Ctrl-Z (and Backspace) only on a terminal it can drive.
    'xterm',
  );
  expect(run.screen).not.toMatch(/Stopped/);
  expect(run.screen).not.toMatch(/rc=13/);
  expect(run.screen).not.toMatch(/and-resume: command not found/);
  expect(run.screen).not.toContain(password);
  const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
  expect(printed !== undefined && bcrypt.compareSync(password, printed)).toBe(true);
}, 30_000);
