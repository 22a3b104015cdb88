/**
 * Found by a review of the external-program backends.
 * backendCommand adds one 'abort' listener per run in flight, running or waiting for a slot, to
 * one long-lived AbortSignal (its `closing` signal, aborted by close()), and removes it when the
 * run ends: no leak. But Node warns past 10 listeners on one EventTarget, so the 11th concurrent
 * login (the default max_concurrency of 8 running and 3 waiting) writes
 * "MaxListenersExceededWarning: Possible EventTarget memory leak detected" on regauth's stderr,
 * outside the JSON log, under an ordinary burst of logins: an operator chasing a leak that is
 * not there. events.setMaxListeners(0, closing.signal) (or a Set of runs aborted by close())
 * says these listeners are expected.
 */
import { afterEach, expect, test } from 'vitest';
import { ExtAuthenticator } from '../../src/authn/ext.js';
import { Secret } from '../../src/core/secret.js';
import type { CommandRunner } from '../../src/ext/command.js';

const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
afterEach(() => {
  process.off('warning', onWarning);
});

test('a burst of concurrent ext_auth logins raises no MaxListenersExceededWarning', async () => {
  process.on('warning', onWarning);
  const slow: CommandRunner = () =>
    new Promise((r) => setTimeout(() => r({ code: 1, signal: null, stdout: '', stderr: '' }), 20));
  const authn = new ExtAuthenticator(
    { command: '/bin/false', args: [], timeoutMs: 5000, maxConcurrency: 8, maxPerClient: 8 },
    slow,
  );
  const logins = Array.from({ length: 12 }, (_, i) =>
    authn.authenticate({ account: `user${i}`, password: new Secret('x') }),
  );
  await expect(Promise.all(logins)).resolves.toHaveLength(12);
  // process 'warning' is emitted on a later tick.
  await new Promise((r) => setTimeout(r, 50));
  expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
});
