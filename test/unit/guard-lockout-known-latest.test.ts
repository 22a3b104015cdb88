/**
 * The known clients of an account (Lockout.loggedInHere) are its latest: a client already known
 * used to keep its place of its first login, so one logging in all the time was pushed out first
 * by new ones, and an account used from more addresses than its share (a robot account shared
 * by a CI fleet) had every login checked in full, round after round. Found by a review.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { CommandResult, RunRequest } from '../../src/ext/command.js';
import { Lockout } from '../../src/guard/lockout.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { LOCKOUT_POLICY } from '../helpers/lockout.js';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { loginStatus, proxiedConfig, startTestServer, type TestServer } from '../helpers/server.js';

test("a client that keeps logging in stays among its account's latest known clients", () => {
  // max_entries 1024: an account's share is a sixteenth, 64 clients.
  const lockout = new Lockout({ maxEntries: 1024, policy: () => LOCKOUT_POLICY });
  lockout.loggedInHere('ci', '10.0.0.1'); // the busy runner, first
  for (let i = 2; i <= 64; i++) lockout.loggedInHere('ci', `10.0.1.${i}`);
  lockout.loggedInHere('ci', '10.0.0.1'); // it logs in again: now the latest of the 64
  lockout.loggedInHere('ci', '10.0.2.1'); // one new runner
  expect(lockout.knownClient('ci', '10.0.0.1')).toBe(true);
});

const tmp = tempDir();
const password = randomPassword();
let s: TestServer;
let runtime: Runtime;
let runs = 0;
const result = (code: number): CommandResult => ({ code, signal: null, stdout: '', stderr: '' });

beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: proxiedConfig(`ext_auth: {command: /bin/false}
credential_cache: {ttl: 300}
`),
    runtimeDeps: {
      runCommand: async (req: RunRequest) => {
        runs++;
        return result(req.stdin === `robot ${password}` ? 0 : 1);
      },
    },
    runtime: (base) => (runtime = base),
    server: {
      loginQueue: new LoginQueue({ policy: () => runtime.loginQueue }),
      lockout: new Lockout({ policy: () => runtime.config.lockout }),
    },
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

const login = (ip: string) => loginStatus(s.url, ip, 'robot', password);

test("a robot account used from 80 runners: only each runner's first login is a full check", async () => {
  const runners = Array.from({ length: 80 }, (_, i) => `10.50.${i >> 8}.${i & 255}`);
  for (const ip of runners) expect(await login(ip)).toBe(200);
  expect(runs).toBe(80); // round 1: each runner's first login (the documented price)
  runs = 0;
  for (const ip of runners) expect(await login(ip)).toBe(200);
  // Round 2: the cache holds the password, every runner has logged in here before.
  expect(runs).toBe(0);
});
