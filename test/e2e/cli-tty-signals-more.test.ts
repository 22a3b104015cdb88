/**
 * Found by a review of 9d75176 (src/cli/prompt.ts FATAL_SIGNALS): the list is documented as "Signals whose
 * default ends the process, caught while echo is off", and the commit says "The signals that end
 * the process put the terminal back first"; but it holds only SIGINT, SIGTERM, SIGHUP, SIGQUIT,
 * SIGALRM and SIGUSR2. Other signals whose default action ends the process, and which node leaves
 * at their default — SIGXCPU (a `ulimit -t` CPU limit), SIGABRT (`kill -ABRT`, a watchdog),
 * SIGPWR, SIGVTALRM (also SIGSYS, SIGTRAP, SIGIO, SIGSTKFLT) — end `regauth hash` at
 * the prompt with the terminal left `-echo -icanon -isig` (node's own restore at exit does not run
 * on a signal's default action).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { needTerminal, onTerminal, regauthLine as regauth, sleep } from './harness/terminal.js';

beforeAll(needTerminal, 180_000);

describe.each(['SIGXCPU', 'SIGABRT', 'SIGPWR', 'SIGVTALRM'] as const)(
  '%s while Password: is asked',
  (signal) => {
    test('the terminal gets its echo and line mode back', async () => {
      const shell = `sh -c 'echo PID=$$; exec "$@"' sh ${regauth('hash --cost 4')}; echo "status=$?"; stty -a`;
      const run = await onTerminal(shell, async ({ screen, type, until }) => {
        await until('Password:');
        type('half-typed');
        await sleep(200);
        process.kill(Number(/PID=(\d+)/.exec(screen())![1]), signal);
        await until('status=');
        await sleep(300);
      });
      expect(run.screen).toMatch(/status=\d+/);
      const modes = run.screen.slice(run.screen.indexOf('status='));
      // Fails now: stty shows "-isig -icanon ... -echo".
      expect(modes).not.toMatch(/(^|\s)-echo(\s|$)/);
      expect(modes).not.toMatch(/(^|\s)-icanon(\s|$)/);
      expect(modes).not.toMatch(/(^|\s)-isig(\s|$)/);
    }, 30_000);
  },
);
