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
import { expect, test } from 'vitest';
import { randomPassword } from '../helpers/fixtures.js';
import { steppedStore, useGuardedServer } from '../helpers/lockout.js';

const password = randomPassword();
let readsDown = false;
const { store, asked } = steppedStore((operation) =>
  readsDown && operation === 'blocked' ? 'fail' : 'answer',
);
/** Failures the store counted. */
const failures = () => asked.filter((o) => o === 'failure').length;

const { login, lockout } = useGuardedServer({
  sections: `users:
  alice: {password: "${bcrypt.hashSync(password, 4)}"}
credential_cache: {ttl: 300}
lockout: {max_failures: 3, backoff: 60, account_max_failures: 10}
`,
  lockout: { store, shared: true },
});

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
