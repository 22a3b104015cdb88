/**
 * While the lockout's store cannot answer, `on_store_error: fail_closed` answers every login whose
 * password must be checked 503, before checking it and uncounted. A login the credential cache
 * holds used to be served all the same, from any address: a wrong guess got 503 and the cached
 * right password 200, as often as the attacker liked, the oracle an outage must not open
 * (docs/security.md, "Across replicas"). Now the cache answers only a client that logged in to
 * the account here and was not refused unchecked since; others get 503 as their guesses do.
 */
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { MemoryLockoutStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type LockoutStore } from '../../src/store/types.js';
import { basic, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir();
const password = randomPassword();
let s: TestServer;
let runtime: Runtime;
let down = false;
let onStoreError: 'fail_closed' | 'fail_open' = 'fail_closed';
const inner = new MemoryLockoutStore(100);
const guard = <T>(f: () => Promise<T>) => (down ? Promise.reject(new StoreUnavailableError('down')) : f());
/** A shared store (no answer at once) that can go down, as Redis does. */
const store: LockoutStore = {
  size: undefined,
  blocked: (...a) => guard(() => inner.blocked(...a)),
  reserve: (...a) => guard(() => inner.reserve(...a)),
  release: (...a) => guard(() => inner.release(...a)),
  failure: (...a) => guard(() => inner.failure(...a)),
  success: (...a) => guard(() => inner.success(...a)),
};

beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${bcrypt.hashSync(password, 4)}"}
credential_cache: {ttl: 300}
lockout: {max_failures: 3, backoff: 60, account_max_failures: 10}
acl: [{match: {}, actions: [pull]}]
`,
    runtime: (base) => (runtime = base),
    server: {
      loginQueue: new LoginQueue({ policy: () => runtime.loginQueue }),
      lockout: new Lockout({ store, policy: () => runtime.config.lockout, onStoreError: () => onStoreError }),
    },
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

const login = async (ip: string, account: string, pw: string) =>
  (
    await fetch(`${s.url}/auth?service=registry&scope=repository:x:pull`, {
      headers: { 'x-forwarded-for': ip, authorization: basic(account, pw) },
    })
  ).status;

/** Runs `during` with the store down. */
async function outage(during: () => Promise<void>): Promise<void> {
  down = true;
  try {
    await during();
  } finally {
    down = false;
  }
}

test('fail_closed: wrong guesses and the cached right password get the same 503; a known client is served', async () => {
  expect(await login('10.1.0.99', 'alice', password)).toBe(200); // alice at home: cached
  await outage(async () => {
    const ip = '192.0.2.9';
    expect(await login(ip, 'alice', password)).toBe(503);
    const wrong: number[] = [];
    // Far more than max_failures (3) and account_max_failures (10): none is checked or counted.
    for (let i = 0; i < 20; i++) wrong.push(await login(ip, 'alice', `guess-${i}`));
    expect(wrong).toEqual(Array(20).fill(503));
    expect(await login(ip, 'alice', password)).toBe(503);
    // alice pulls on from where she logged in.
    expect(await login('10.1.0.99', 'alice', password)).toBe(200);
  });
  expect(await login('192.0.2.9', 'alice', password)).toBe(200);
});

test("fail_closed: a guess refused unchecked from the owner's address ends its standing until it logs in again", async () => {
  const ip = '10.1.0.98';
  expect(await login(ip, 'alice', password)).toBe(200);
  await outage(async () => {
    expect(await login(ip, 'alice', password)).toBe(200);
    expect(await login(ip, 'alice', 'guess')).toBe(503);
    expect(await login(ip, 'alice', password)).toBe(503);
  });
  expect(await login(ip, 'alice', password)).toBe(200);
  await outage(async () => {
    expect(await login(ip, 'alice', password)).toBe(200);
  });
});

test('fail_open: passwords are checked without the limits, so the cache answers everyone', async () => {
  onStoreError = 'fail_open';
  try {
    await outage(async () => {
      expect(await login('192.0.2.10', 'alice', 'guess')).toBe(401);
      expect(await login('192.0.2.10', 'alice', password)).toBe(200);
    });
  } finally {
    onStoreError = 'fail_closed';
  }
});
