/**
 * A login the login queue turns away is answered before its password is checked, and a login the
 * credential cache holds needs no place in the queue. Together they were a password oracle: while
 * the queue turned an address away (its `per_client` places taken, or the whole queue full), every
 * wrong guess for an account whose right password the cache held got 429 or 503, uncounted, and
 * the right one got 200. Now the cache answers only a client that logged in to the account here
 * before and sent no password it did not answer since; others' logins are checked in full, so
 * they are turned away as their wrong guesses are. Nothing is counted.
 */
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import type { CommandResult, RunRequest } from '../../src/ext/command.js';
import { Lockout } from '../../src/guard/lockout.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { loginStatus, startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir();
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'robot', 'gina', 'mallory'] as const;
/** lockout.max_entries: the lockout's tables of clients, small enough to fill in a test. */
const MAX_ENTRIES = 64;
const passwords = Object.fromEntries(USERS.map((u) => [u, randomPassword()])) as Record<
  (typeof USERS)[number],
  string
>;
/** ext_auth runs held until released: each holds its client's one place in the login queue. */
const held: ((r: CommandResult) => void)[] = [];
let holdNext = 0;
const DENY: CommandResult = { code: 1, signal: null, stdout: '', stderr: '' };
let s: TestServer;
let runtime: Runtime;
let lockout: Lockout;
/** `lockout.enabled` as the test wants it. */
let enabled = true;

beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
${USERS.map((u) => `  ${u}: {password: "${bcrypt.hashSync(passwords[u], 4)}"}`).join('\n')}
ext_auth: {command: /bin/false, max_per_client: 1}
login_queue: {per_client: 1, max_pending: 2}
credential_cache: {ttl: 300}
lockout: {max_failures: 2, backoff: 60, account_max_failures: 3, max_entries: ${MAX_ENTRIES}}
acl: [{match: {}, actions: [pull]}]
`,
    runtimeDeps: {
      runCommand: (_req: RunRequest) =>
        holdNext > 0 ? (holdNext--, new Promise((done) => held.push(done))) : Promise.resolve(DENY),
    },
    runtime: (base) => (runtime = base),
    server: {
      loginQueue: new LoginQueue({ policy: () => runtime.loginQueue }),
      lockout: (lockout = new Lockout({
        maxEntries: MAX_ENTRIES, // as service.ts builds it, from lockout.max_entries
        policy: () => ({ ...runtime.config.lockout, enabled }),
      })),
    },
  });
});
afterAll(async () => {
  release();
  await s.server.close(100);
  tmp.cleanup();
});

const login = (ip: string, account: string, password: string) => loginStatus(s.url, ip, account, password);

/** Takes `ip`'s one place with a made-up login whose ext_auth run is held; resolves once it runs. */
async function hold(ip: string): Promise<{ answer: Promise<number> }> {
  holdNext += 1;
  const before = held.length;
  const answer = login(ip, `made-up-${randomPassword().slice(0, 8)}`, 'x');
  for (let i = 0; i < 200 && held.length === before; i++) await new Promise((r) => setTimeout(r, 5));
  expect(held.length).toBe(before + 1);
  return { answer };
}
function release(): void {
  for (const done of held.splice(0)) done(DENY);
}
afterEach(release);

test('while its place is taken, an address gets 429 for the cached right password as for wrong guesses', async () => {
  const ip = '10.1.0.1';
  expect(await login('10.1.0.99', 'alice', passwords.alice)).toBe(200); // cached now
  const slow = await hold(ip);
  // The first request already: a cached right password answered here would tell it.
  expect(await login(ip, 'alice', passwords.alice)).toBe(429);
  const wrong = [];
  for (let i = 0; i < 6; i++) wrong.push(await login(ip, 'alice', `guess-${i}`));
  expect(wrong).toEqual(Array(6).fill(429));
  expect(await login(ip, 'alice', passwords.alice)).toBe(429);
  release();
  expect(await slow.answer).toBe(401);
  // With its place back, a guess is checked and counted: max_failures (2) of them lock the pair.
  expect(await login(ip, 'alice', 'guess-a')).toBe(401);
  expect(await login(ip, 'alice', 'guess-b')).toBe(401);
  expect(await login(ip, 'alice', passwords.alice)).toBe(429);
  // The address alice logs in from is not held back by any of this.
  expect(await login('10.1.0.99', 'alice', passwords.alice)).toBe(200);
});

test('while the whole queue is full, only clients that logged in here get the cached answer', async () => {
  expect(await login('10.2.0.99', 'bob', passwords.bob)).toBe(200);
  const slow = [await hold('10.2.0.1'), await hold('10.2.0.2')];
  const ip = '10.2.0.3';
  expect(await login(ip, 'bob', passwords.bob)).toBe(503);
  expect(await login(ip, 'bob', 'guess-0')).toBe(503);
  expect(await login(ip, 'bob', passwords.bob)).toBe(503);
  // The address bob logged in from keeps pulling through the flood.
  expect(await login('10.2.0.99', 'bob', passwords.bob)).toBe(200);
  release();
  expect(await Promise.all(slow.map((h) => h.answer))).toEqual([401, 401]);
  // Once there is room, the cache answers as before.
  expect(await login(ip, 'bob', passwords.bob)).toBe(200);
});

test("a client behind the owner's address loses the owner's standing with its first guess", async () => {
  // carol logs in from an office NAT; a guesser behind the same address takes its place.
  const ip = '10.3.0.1';
  expect(await login(ip, 'carol', passwords.carol)).toBe(200);
  const slow = await hold(ip);
  // Her own pulls go on (a known client)...
  expect(await login(ip, 'carol', passwords.carol)).toBe(200);
  // ... until a login of the pair is turned away: then the right password is too.
  expect(await login(ip, 'carol', 'guess')).toBe(429);
  expect(await login(ip, 'carol', passwords.carol)).toBe(429);
  release();
  await slow.answer;
  // With room, the right password logs in, and the pair is a known client again.
  expect(await login(ip, 'carol', passwords.carol)).toBe(200);
  const again = await hold(ip);
  expect(await login(ip, 'carol', passwords.carol)).toBe(200);
  release();
  await again.answer;
});

test('turn-aways count nothing: a flood of made-up logins locks no one out', async () => {
  // The flood fills max_pending; a robot account's first logins from three runners get 503.
  const flood = [await hold('192.0.2.1'), await hold('192.0.2.2')];
  for (const runner of ['10.4.0.1', '10.4.0.2', '10.4.0.3'])
    expect(await login(runner, 'robot', passwords.robot)).toBe(503);
  // Many more from one address, right and wrong.
  for (let i = 0; i < 10; i++)
    expect(await login('10.4.0.1', 'robot', i % 2 ? passwords.robot : `guess-${i}`)).toBe(503);
  release();
  await Promise.all(flood.map((h) => h.answer));
  expect(await lockout.blocked('robot', '10.4.0.1')).toBe(0);
  expect(await lockout.blocked('robot', '10.4.0.9')).toBe(0);
  expect(await login('10.4.0.4', 'robot', passwords.robot)).toBe(200);
  expect(await login('10.4.0.1', 'robot', passwords.robot)).toBe(200);
});

test('a burst of right first logins from one address is turned away in part, then served from the cache', async () => {
  const ip = '10.5.0.1';
  const slow = await hold(ip);
  expect(await login(ip, 'erin', passwords.erin)).toBe(429);
  release();
  await slow.answer;
  expect(await login(ip, 'erin', passwords.erin)).toBe(200);
  // Logged in: a known client, so a held place no longer turns the cached login away.
  const again = await hold(ip);
  expect(await login(ip, 'erin', passwords.erin)).toBe(200);
  release();
  await again.answer;
});

test('without the lockout nothing is counted, and the cache still answers only known clients while turned away', async () => {
  enabled = false;
  try {
    const ip = '10.6.0.1';
    expect(await login('10.6.0.99', 'frank', passwords.frank)).toBe(200);
    const slow = await hold(ip);
    expect(await login(ip, 'frank', passwords.frank)).toBe(429);
    expect(await login(ip, 'frank', 'guess')).toBe(429);
    release();
    await slow.answer;
    expect(await login(ip, 'frank', passwords.frank)).toBe(200);
    const again = await hold(ip);
    expect(await login(ip, 'frank', passwords.frank)).toBe(200);
    release();
    await again.answer;
  } finally {
    enabled = true;
  }
});

test("no number of turn-aways gives a guesser behind the owner's address her standing back", async () => {
  // Each login turned away used to be kept in a table of max_entries, least recently used out:
  // max_entries made-up logins turned away from the same address pushed the guesser's out, the
  // pair was a known client again, and its next guess was one more uncounted answer.
  const nat = '10.7.0.1';
  expect(await login(nat, 'gina', passwords.gina)).toBe(200); // gina at the office: known
  const slow = await hold(nat);
  const answers: number[] = [];
  for (let i = 0; i < 5; i++) {
    answers.push(await login(nat, 'gina', `guess-${i}`));
    for (let j = 0; j < MAX_ENTRIES; j++) expect(await login(nat, `nobody-${i}-${j}`, 'x')).toBe(429);
  }
  expect(answers).toEqual(Array(5).fill(429));
  expect(await lockout.blocked('gina', nat)).toBe(0); // none counted
  expect(await login(nat, 'gina', passwords.gina)).toBe(429);
  release();
  await slow.answer;
});

test("logins to one's own account from countless addresses push out no one else's standing", async () => {
  const home = '10.8.0.1';
  expect(await login(home, 'alice', passwords.alice)).toBe(200);
  // mallory logs in to her own account (cached after the first) from max_entries IPv6 networks.
  for (let i = 1; i <= MAX_ENTRIES; i++) {
    expect(await login(`2001:db8:0:${i.toString(16)}::1`, 'mallory', passwords.mallory)).toBe(200);
  }
  // Then a flood takes the whole queue: alice pulls on from home.
  const flood = [await hold('192.0.2.1'), await hold('192.0.2.2')];
  expect(await login(home, 'alice', passwords.alice)).toBe(200);
  // mallory's own earliest networks were pushed out of her share: strangers now.
  expect(await login('2001:db8:0:1::1', 'mallory', passwords.mallory)).toBe(503);
  release();
  await Promise.all(flood.map((h) => h.answer));
});
