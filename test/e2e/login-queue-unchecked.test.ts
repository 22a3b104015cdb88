/**
 * The login queue and the store's outages against a guesser, as `regauth serve` runs them with a
 * real Redis store and a real ext_auth command: while a client's logins are refused before their
 * password is checked (the queue turned it away, or Redis cannot answer under fail_closed), the
 * credential cache answers the right password only for clients that logged in here before, so a
 * guesser gets the same answer for it as for its wrong guesses (docs/security.md "Brute-force
 * protection: what the lockout guarantees", its paragraph on refusals before the check).
 */
import bcrypt from 'bcryptjs';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { basic, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { freePort } from './harness/ports.js';
import type { ProcessHandle } from './harness/proc.js';
import { startRedis, type RedisPeer } from './harness/redis.js';
import { SERVICE, startRegauthProcess } from './harness/stack.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/ext');
const tmp = tempDir('regauth-queue-unchecked-e2e-');
const password = randomPassword();
let redis: RedisPeer;
let regauth: ProcessHandle;
let url: string;

beforeAll(async () => {
  ensureBuilt();
  redis = await startRedis({ dir: join(tmp.dir, 'redis') });
  const keys = await writeSigningKey(tmp.dir, 'ES256');
  const users = join(tmp.dir, 'users.txt');
  writeFileSync(users, '');
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const config = join(tmp.dir, 'config.yml');
  // alice is a static user; every other name reaches the command, which answers after 3 s and
  // holds its client's one place (max_per_client 1) meanwhile.
  writeFileSync(
    config,
    `server:
  addr: "127.0.0.1:${port}"
  trusted_proxies: [127.0.0.1]
token: {issuer: "queue e2e", key: ${keys.keyPath}, certificate: ${keys.certPath}}
store: {type: redis, url: ${redis.url}, key_prefix: "unchecked:"}
users:
  alice: {password: "${bcrypt.hashSync(password, 4)}"}
ext_auth:
  command: ${join(FIXTURES, 'auth-slow.sh')}
  args: [${users}, "3"]
  max_per_client: 1
lockout: {max_failures: 3, backoff: 60}
acl: [{match: {}, actions: [pull]}]
`,
  );
  regauth = await startRegauthProcess(config, url, { ready: '/readyz', name: 'regauth-queue-unchecked' });
}, 120_000);

afterAll(async () => {
  await regauth?.stop();
  await redis?.stop();
  tmp.cleanup();
});

const login = async (ip: string, account: string, pw: string) => {
  const res = await fetch(`${url}/auth?service=${SERVICE}&scope=repository:x:pull`, {
    headers: { authorization: basic(account, pw), 'x-forwarded-for': ip },
  });
  await res.arrayBuffer();
  return res.status;
};

const pending = async () => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^regauth_login_queue_pending (\d+)$/m.exec(text)?.[1]);
};

test('a turned-away address gets 429 for the cached right password too; a known client pulls on', async () => {
  expect(await login('10.9.0.99', 'alice', password)).toBe(200);
  const slow = login('10.9.0.1', 'someone-else', 'x');
  for (let i = 0; i < 100 && (await pending()) < 1; i++) await new Promise((r) => setTimeout(r, 20));
  expect(await pending()).toBe(1);
  expect(await login('10.9.0.1', 'alice', password)).toBe(429);
  expect(await login('10.9.0.1', 'alice', 'guess-1')).toBe(429);
  expect(await login('10.9.0.1', 'alice', password)).toBe(429);
  expect(await login('10.9.0.99', 'alice', password)).toBe(200);
  expect(await slow).toBe(401);
  // With room again, the cache answers everyone, as before.
  expect(await login('10.9.0.1', 'alice', password)).toBe(200);
}, 30_000);

test('Redis stopped (fail_closed): a fresh address gets 503 for the cached right password too; a known client pulls on', async () => {
  await redis.stop();
  try {
    expect(await login('10.9.1.1', 'alice', 'guess')).toBe(503);
    expect(await login('10.9.1.1', 'alice', password)).toBe(503);
    expect(await login('10.9.1.2', 'alice', password)).toBe(503);
    expect(await login('10.9.0.99', 'alice', password)).toBe(200);
  } finally {
    await redis.start();
  }
}, 30_000);
