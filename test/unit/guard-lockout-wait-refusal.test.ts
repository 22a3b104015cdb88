/**
 * The lockout's reservation refuses before the check too: a login that waits for a check in
 * flight of its pair longer than MAX_WAIT_MS (10 s) gets 429, its password unchecked and
 * uncounted. A stranger's cached login used to skip the reservation (the memory store's cached
 * path) and was answered 200 at once while the stranger's wrong guesses behind the same checks
 * got that 429; behind the owner's address (a NAT), such 429s left the owner's standing to the
 * guesser. The checks are held here by a static user's wrong passwords whose ext_auth decoy runs
 * slowly (the command's timeout, a slow directory: docs/security.md "User enumeration", its price).
 *
 * Found by a review. A client that has not logged in from its address is now checked in full
 * (Credentials.uncached), and a wait refused so ends the client's standing.
 */
import bcrypt from 'bcryptjs';
import { afterAll, expect, test } from 'vitest';
import type { CommandResult, RunRequest } from '../../src/ext/command.js';
import { randomPassword } from '../helpers/fixtures.js';
import { steppedStore, useGuardedServer } from '../helpers/lockout.js';
import { loginStatus } from '../helpers/server.js';

const password = randomPassword();
const held: ((r: CommandResult) => void)[] = [];
let hold = false;
const DENY: CommandResult = { code: 1, signal: null, stdout: '', stderr: '' };

// Both servers: the same config, and a command held while `hold` is set, denying otherwise.
const sections = `users:
  alice: {password: "${bcrypt.hashSync(password, 4)}"}
ext_auth: {command: /bin/false, max_per_client: 4}
login_queue: {per_client: 4, max_pending: 100}
credential_cache: {ttl: 300}
lockout: {max_failures: 1, backoff: 60, account_max_failures: 10}
`;
const runtimeDeps = {
  runCommand: (_req: RunRequest) =>
    hold ? new Promise<CommandResult>((done) => held.push(done)) : Promise.resolve(DENY),
};
const s = useGuardedServer({ sections, runtimeDeps });
// The same, with a shared store (as Redis: nothing answered at once).
const shared = useGuardedServer({
  sections,
  runtimeDeps,
  lockout: { store: steppedStore(() => 'answer').store, shared: true },
});
// Before the servers close (hooks after the tests run last-registered first).
afterAll(() => {
  for (const done of held.splice(0)) done(DENY);
});

const login = (ip: string, account: string, password: string, url = s.server.url) =>
  loginStatus(url, ip, account, password);

test("memory store: a stranger's cached right password skips the wait its wrong guesses are refused for", async () => {
  expect(await login('10.1.0.99', 'alice', password)).toBe(200); // alice at home: cached
  const ip = '192.0.2.50';
  hold = true;
  // The pair's one check in flight (max_failures 1): a wrong password whose decoy run is slow.
  const holder = login(ip, 'alice', 'guess-0');
  for (let i = 0; i < 400 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  expect(held.length).toBe(1);
  // Wrong guesses behind it wait MAX_WAIT_MS and are refused unchecked, uncounted.
  const wrong = Promise.all([login(ip, 'alice', 'guess-1'), login(ip, 'alice', 'guess-2')]);
  const right = await login(ip, 'alice', password);
  const wrongStatuses = await wrong;
  expect(wrongStatuses).toEqual([429, 429]);
  for (const done of held.splice(0)) done(DENY);
  hold = false;
  expect(await holder).toBe(401);
  // The right password from the same stranger must get what its guesses got.
  expect(right).toBe(429);
}, 30_000);

test("shared store: behind the owner's address, guesses refused by the wait keep the owner's standing for the cached right password", async () => {
  // alice logs in from an office NAT; a guesser behind it holds the pair's one check in flight.
  const ip = '10.9.0.1';
  expect(await login(ip, 'alice', password, shared.server.url)).toBe(200);
  hold = true;
  const holder = login(ip, 'alice', 'guess-0', shared.server.url);
  for (let i = 0; i < 400 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  expect(held.length).toBe(1);
  const wrong = Promise.all([
    login(ip, 'alice', 'guess-1', shared.server.url),
    login(ip, 'alice', 'guess-2', shared.server.url),
  ]);
  const wrongStatuses = await wrong; // 429 after MAX_WAIT_MS, unchecked, uncounted
  // Refused before the check, yet the pair is still a known client: its cached right password is answered.
  const right = await login(ip, 'alice', password, shared.server.url);
  for (const done of held.splice(0)) done(DENY);
  hold = false;
  await holder;
  expect(wrongStatuses).toEqual([429, 429]);
  expect(right).toBe(429);
}, 30_000);
