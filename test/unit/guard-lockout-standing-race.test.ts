/**
 * A client's standing (Lockout.knownClient) is read when a request arrives, and used to end only
 * once a refusal before the check had happened. A guesser behind the owner's address (a NAT) sent
 * its wrong guesses and the candidate together: all read as a known client's before the first
 * refusal landed, so the wrong ones met the outage (503, uncounted) while the cached right
 * password got 200. Now a password the cache does not answer ends the standing as it arrives
 * (Lockout.endStanding). Found by a review.
 */
import { afterAll, expect, test } from 'vitest';
import type { CommandResult, RunRequest } from '../../src/ext/command.js';
import { randomPassword } from '../helpers/fixtures.js';
import { useGuardedServer } from '../helpers/lockout.js';

const password = randomPassword();
let mode: 'ok' | 'hold' | 'down' = 'ok';
const held: ((r: CommandResult) => void)[] = [];
const result = (code: number): CommandResult => ({ code, signal: null, stdout: '', stderr: '' });

const { login, lockout } = useGuardedServer({
  sections: `ext_auth: {command: /bin/false, max_per_client: 16, max_concurrency: 64}
login_queue: {per_client: 16, max_pending: 100}
credential_cache: {ttl: 300}
lockout: {max_failures: 3, backoff: 60, account_max_failures: 10}
`,
  runtimeDeps: {
    runCommand: async (req: RunRequest) => {
      if (mode === 'down') return result(3); // the command cannot answer: 503
      if (mode === 'hold') return new Promise((done) => held.push(done)); // a slow outage
      return result(req.stdin === `alice ${password}` ? 0 : 1);
    },
  },
});
// Before the server closes (hooks after the tests run last-registered first).
afterAll(() => {
  for (const done of held.splice(0)) done(result(3));
});

test('a guesser behind the known address sending its guesses together gets the same answer for the right one', async () => {
  const nat = '10.20.0.1';
  expect(await login(nat, 'alice', password)).toBe(200); // alice at the office: now a known client
  expect(lockout.knownClient('alice', nat)).toBe(true);

  // The command (or the directory) goes slow and then fails: an outage.
  mode = 'hold';
  const N = 9; // three times max_failures
  const wrong = Array.from({ length: N }, (_, i) => login(nat, 'alice', `guess-${i}`));
  for (let i = 0; i < 400 && held.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
  expect(held.length).toBe(3); // max_failures checks in flight, the rest in line

  // The candidate, sent with one more guess while those wait in line.
  const right = login(nat, 'alice', password);
  const control = login(nat, 'alice', 'guess-last');
  await new Promise((r) => setTimeout(r, 50));

  mode = 'down';
  for (const done of held.splice(0)) done(result(3));
  const wrongStatuses = await Promise.all(wrong);
  const answers = { right: await right, control: await control };
  mode = 'ok';

  expect(wrongStatuses).toEqual(Array(N).fill(503)); // none judged, none counted
  expect(await lockout.blocked('alice', nat)).toBe(0);
  // The right password from the same client is not told from the wrong guess sent with it.
  expect(answers).toEqual({ right: 503, control: 503 });
}, 30_000);
