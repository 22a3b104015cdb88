/**
 * A backend outage is an uncounted answer given before any password is judged, the
 * same kind as the store outage the change closed. While ext_auth cannot answer (its command
 * failing or timing out, its max_concurrency slots held by slow runs from a few addresses, as
 * docs/security.md describes), every wrong guess for an ext_auth account gets 503 and is never
 * counted ("an outage itself never is, as it may meet a right password too"), while a stranger's
 * cached right password gets 200 from the credential cache: unlimited uncounted guessing against
 * any account whose password the cache holds.
 *
 * Found by a review. A client that has not logged in from its address is now checked in full
 * (Credentials.uncached), so its right password meets what a wrong one meets.
 */
import { expect, test } from 'vitest';
import type { CommandResult, RunRequest } from '../../src/ext/command.js';
import { randomPassword } from '../helpers/fixtures.js';
import { useGuardedServer } from '../helpers/lockout.js';

const password = randomPassword();
let broken = false;
const result = (code: number): CommandResult => ({ code, signal: null, stdout: '', stderr: '' });

const { login } = useGuardedServer({
  sections: `ext_auth: {command: /bin/false}
credential_cache: {ttl: 300}
lockout: {max_failures: 3, backoff: 60, account_max_failures: 10}
`,
  runtimeDeps: {
    runCommand: async (req: RunRequest) => {
      if (broken) return result(3); // the command cannot answer: 503
      return result(req.stdin === `alice ${password}` ? 0 : 1);
    },
  },
});

test("during a backend outage a stranger's cached right password is told from wrong guesses, uncounted", async () => {
  expect(await login('10.1.0.99', 'alice', password)).toBe(200); // alice at home: cached
  broken = true;
  try {
    const ip = '192.0.2.40';
    const wrong: number[] = [];
    // Far past max_failures (3) and account_max_failures (10): none is counted.
    for (let i = 0; i < 20; i++) wrong.push(await login(ip, 'alice', `guess-${i}`));
    expect(wrong).toEqual(Array(20).fill(503));
    // The right password, from the same stranger, must get what the guesses got.
    expect(await login(ip, 'alice', password)).toBe(503);
  } finally {
    broken = false;
  }
});
