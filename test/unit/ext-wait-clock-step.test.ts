/**
 * Found by a review of the external-program backends.
 * docs/backends/ext.md: each run is killed after `timeout` (at most 60 s), and "a caller waits
 * for a slot up to the timeout". limitConcurrency takes what the wait for a slot cost off the
 * timeout by the wall clock (Date.now()). When the wall clock is stepped back while a caller
 * waits (NTP correcting a fast clock, a VM resumed, an operator's `date -s`), the wait comes out
 * negative and the run is given the timeout plus the step: a hung command then holds its slot,
 * and the login its request, for as long as the clock went back (here an hour), far past the
 * 60 s the config allows. A monotonic clock (performance.now()), or the remainder capped at the
 * timeout, keeps it within `timeout`.
 */
import { expect, test, vi } from 'vitest';
import { limitConcurrency, type CommandRunner } from '../../src/ext/command.js';

test('a run that waited for a slot never gets more than its timeout, even if the wall clock stepped back', async () => {
  const seen: number[] = [];
  const pending: (() => void)[] = [];
  const held: CommandRunner = (req) => {
    seen.push(req.timeoutMs);
    return new Promise((r) => pending.push(() => r({ code: 0, signal: null, stdout: '', stderr: '' })));
  };
  const run = limitConcurrency(held, 1);
  const req = { command: 'x', args: [], stdin: '', timeoutMs: 5000 };
  let t = 1_000_000_000;
  const now = vi.spyOn(Date, 'now').mockImplementation(() => t);
  try {
    const first = run(req);
    const second = run(req); // waits for the only slot
    await expect.poll(() => pending.length).toBe(1);
    t -= 3_600_000; // the wall clock is stepped back an hour while it waits
    pending[0]!();
    await first;
    await expect.poll(() => pending.length).toBe(2);
    pending[1]!();
    await second;
  } finally {
    now.mockRestore();
  }
  expect(seen[0]).toBe(5000);
  expect(seen[1]).toBeLessThanOrEqual(5000);
});
