/**
 * A wrong password checked after its reservation, whose lock read after the check the store
 * cannot answer, gets 503 under fail_closed, uncounted. Behind a known client's address (a NAT)
 * the guesser used to keep the owner's standing all the while: every wrong guess got 503 and the
 * cached right password 200. A store that takes the reservation but times out on the read (an
 * overloaded Redis), or an outage beginning while checks are in flight, is enough. Now a password
 * the cache does not answer ends the standing as it arrives (Lockout.endStanding). Found by a
 * review.
 */
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { steppedStore } from '../helpers/lockout.js';
import { loginStatus, proxiedConfig, startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir();
const password = randomPassword();
let s: TestServer;
let runtime: Runtime;
let lockout: Lockout;
let readsDown = false;
const { store, asked } = steppedStore((operation) =>
  readsDown && operation === 'blocked' ? 'fail' : 'answer',
);
/** Failures the store counted. */
const failures = () => asked.filter((o) => o === 'failure').length;

beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: proxiedConfig(`users:
  alice: {password: "${bcrypt.hashSync(password, 4)}"}
credential_cache: {ttl: 300}
lockout: {max_failures: 3, backoff: 60, account_max_failures: 10}
`),
    runtime: (base) => (runtime = base),
    server: {
      loginQueue: new LoginQueue({ policy: () => runtime.loginQueue }),
      lockout: (lockout = new Lockout({ store, shared: true, policy: () => runtime.config.lockout })),
    },
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

const login = (ip: string, account: string, password: string) => loginStatus(s.url, ip, account, password);

test('a 503 from the lock read after the check gives a NAT guesser no answer from the cache', async () => {
  const nat = '10.30.0.1';
  expect(await login(nat, 'alice', password)).toBe(200); // the owner: a known client
  readsDown = true;
  try {
    const wrong: number[] = [];
    for (let i = 0; i < 10; i++) wrong.push(await login(nat, 'alice', `guess-${i}`));
    expect(wrong).toEqual(Array(10).fill(503)); // ten guesses, past max_failures (3)
    expect(failures()).toBe(0); // none counted
    const right = await login(nat, 'alice', password);
    // Refused without a verdict told: the standing must have ended, so the right password meets
    // what the guesses met.
    expect({ known: lockout.knownClient('alice', nat), right }).toEqual({ known: false, right: 503 });
  } finally {
    readsDown = false;
  }
});
