/**
 * Found by a review of fbd7b2d ("Keep echo off with stderr redirected; refuse Ctrl-D and bad bytes"):
 * src/cli/prompt.ts now asks on node's readline (terminal mode), one Interface per answer.
 *
 * - stdin a terminal that cannot be read (`0>/dev/tty`, a write-only descriptor): readline
 *   re-emits the stream's error as an 'error' event on the Interface, which ask() does not listen
 *   to: an uncaught exception, node's stack trace, exit 1, which for `check --password-stdin` is
 *   "failed authentication" (docs/cli.md "Exit codes and the config"). The piped path (readStdin) turns the same
 *   system error into `regauth: …`, exit 2.
 *
 * Runs the built CLI on script(1)'s pseudo-terminal, as test/e2e/cli-tty-edge.test.ts does.
 */
import { beforeAll, expect, test } from 'vitest';
import { needTerminal, onTerminal, regauthLine as regauth } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

test('stdin a terminal that cannot be read: a one-line refusal (exit 2), not an unhandled error event (exit 1)', async () => {
  const run = await onTerminal(`${regauth('hash --cost 4')} 0>/dev/tty`, async ({ until }) => {
    await until('Password:');
  });
  expect({
    code: run.code,
    unhandled: /Unhandled 'error' event/.test(run.screen),
    said: /^regauth: /m.test(run.screen),
  }).toEqual({ code: 2, unhandled: false, said: true });
}, 30_000);
