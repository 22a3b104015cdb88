/**
 * The known clients of an account (Lockout.loggedInHere) are its latest: a client already known
 * used to keep its place of its first login, so one logging in all the time was pushed out first
 * by new ones, and an account used from more addresses than its share (a robot account shared
 * by a CI fleet) had every login checked in full, round after round. Found by a review.
 */
import { expect, test } from 'vitest';
import type { CommandResult, RunRequest } from '../../src/ext/command.js';
import { Lockout } from '../../src/guard/lockout.js';
import { LOCKOUT_POLICY, useGuardedServer } from '../helpers/lockout.js';
import { randomPassword } from '../helpers/fixtures.js';

test("a client that keeps logging in stays among its account's latest known clients", () => {
  // max_entries 1024: an account's share is a sixteenth, 64 clients.
  const lockout = new Lockout({ maxEntries: 1024, policy: () => LOCKOUT_POLICY });
  lockout.loggedInHere('ci', '10.0.0.1'); // the busy runner, first
  for (let i = 2; i <= 64; i++) lockout.loggedInHere('ci', `10.0.1.${i}`);
  lockout.loggedInHere('ci', '10.0.0.1'); // it logs in again: now the latest of the 64
  lockout.loggedInHere('ci', '10.0.2.1'); // one new runner
  expect(lockout.knownClient('ci', '10.0.0.1')).toBe(true);
});

const password = randomPassword();
let runs = 0;
const result = (code: number): CommandResult => ({ code, signal: null, stdout: '', stderr: '' });

const guarded = useGuardedServer({
  sections: `ext_auth: {command: /bin/false}
credential_cache: {ttl: 300}
`,
  runtimeDeps: {
    runCommand: async (req: RunRequest) => {
      runs++;
      return result(req.stdin === `robot ${password}` ? 0 : 1);
    },
  },
});

const login = (ip: string) => guarded.login(ip, 'robot', password);

test("a robot account used from 80 runners: only each runner's first login is a full check", async () => {
  const runners = Array.from({ length: 80 }, (_, i) => `10.50.${i >> 8}.${i & 255}`);
  for (const ip of runners) expect(await login(ip)).toBe(200);
  expect(runs).toBe(80); // round 1: each runner's first login (the documented price)
  runs = 0;
  for (const ip of runners) expect(await login(ip)).toBe(200);
  // Round 2: the cache holds the password, every runner has logged in here before.
  expect(runs).toBe(0);
});
