/**
 * A known client's cached login that arrived before a guess, but finished after it, used to give
 * the standing back (loggedInHere ran at its end, whatever endStanding did meanwhile). With a
 * shared store the cached path awaits the store's lock read (up to store.timeout_ms during an
 * outage, when it is then served uncounted); on the memory store it awaits the signing thread.
 * So a guesser behind the owner's NAT, during a store outage, got a fresh oracle guess after
 * every owner login in flight. Now such a login keeps the standing it arrived with only if
 * nothing ended it meanwhile (Lockout.standing). Found by a review.
 */
import bcrypt from 'bcryptjs';
import { afterAll, expect, test } from 'vitest';
import { Lockout, withLockoutNow, type LockoutPolicy } from '../../src/guard/lockout.js';
import { Secret } from '../../src/core/secret.js';
import { randomPassword } from '../helpers/fixtures.js';
import { LOCKOUT_POLICY, steppedStore, useGuardedServer } from '../helpers/lockout.js';

const password = randomPassword();
let mode: 'ok' | 'hold' | 'down' = 'ok';
// A slow Redis ('hold'): its lock reads time out later; its other operations fail at once.
const { store, hanging: heldReads } = steppedStore((operation) =>
  mode === 'ok' || operation === 'release'
    ? 'answer'
    : mode === 'hold' && operation === 'blocked'
      ? 'hang'
      : 'fail',
);

const guarded = useGuardedServer({
  sections: `users:
  alice: {password: "${bcrypt.hashSync(password, 4)}"}
credential_cache: {ttl: 300}
lockout: {max_failures: 3, backoff: 60, account_max_failures: 10}
`,
  lockout: { store, shared: true },
});
const { login, lockout } = guarded;
// Before the server closes (hooks after the tests run last-registered first).
afterAll(() => {
  for (const r of heldReads.splice(0)) r();
});

test('shared store: an owner login in flight does not give a NAT guesser its standing back', async () => {
  const nat = '10.50.0.1';
  expect(await login(nat, 'alice', password)).toBe(200); // the owner: a known client
  mode = 'hold'; // Redis goes slow, then down
  const owner = login(nat, 'alice', password); // the owner's next token request: cached, awaits the read
  for (let i = 0; i < 200 && heldReads.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
  expect(heldReads.length).toBe(1);
  mode = 'down';
  // The guesser's first guess: ends the standing, 503 uncounted.
  expect(await login(nat, 'alice', 'guess-1')).toBe(503);
  expect(lockout.knownClient('alice', nat)).toBe(false);
  for (const r of heldReads.splice(0)) r(); // the owner's read times out: served uncounted
  expect(await owner).toBe(200);
  // The guesser's next candidate must meet what a wrong one meets (503), as it would have had
  // the owner's request arrived after the guess.
  const answers = { right: await login(nat, 'alice', password), wrong: await login(nat, 'alice', 'guess-2') };
  mode = 'ok';
  expect(answers).toEqual({ right: 503, wrong: 503 });
});

test('memory store: a cached login whose token is still being signed does not undo endStanding', async () => {
  const l = new Lockout({ policy: () => guarded.runtime.config.lockout });
  const nat = '10.50.0.2';
  l.loggedInHere('bob', nat);
  let signed!: (v: { account: string }) => void;
  const cached = withLockoutNow(
    l,
    { account: 'bob', password: new Secret('pw'), ip: nat },
    () => new Promise<{ account: string }>((r) => (signed = r)),
  );
  expect(cached).toBeDefined();
  l.endStanding('bob', nat); // a guess from the same address arrives while the token is signed
  signed({ account: 'bob' });
  await cached;
  expect(l.knownClient('bob', nat)).toBe(false);
});

// The same, when the ended entry itself is gone by the time the login finishes (pushed out of the
// account's share, or keyed otherwise after a reload): a cached login now never gives a standing
// back. Found by a review of the stamps.
/** A cached login of (account, ip) held in flight (its token being signed) until `finish`. */
function inFlight(l: Lockout, account: string, ip: string) {
  let signed!: (v: { account: string }) => void;
  const p = withLockoutNow(
    l,
    { account, password: new Secret('pw'), ip },
    () => new Promise<{ account: string }>((r) => (signed = r)),
  );
  expect(p).toBeDefined();
  return async () => {
    signed({ account });
    await p;
  };
}

test("an ended standing pushed out of the account's share is not given back by a cached login in flight", async () => {
  // max_entries 32: an account's share is 2 clients.
  const l = new Lockout({ maxEntries: 32, policy: () => LOCKOUT_POLICY });
  const nat = '10.60.0.1';
  l.loggedInHere('bob', nat); // the owner behind the NAT: known
  const finish = inFlight(l, 'bob', nat); // her next token request, cached, in flight
  l.endStanding('bob', nat); // a guesser behind the same NAT: standing ended (tombstone)
  // The account's other places (CI runners) log in meanwhile: the oldest entry, the tombstone, goes.
  l.loggedInHere('bob', '10.60.1.1');
  l.loggedInHere('bob', '10.60.1.2');
  await finish();
  expect(l.knownClient('bob', nat)).toBe(false);
});

test('an ended standing is not given back under another ipv6_prefix after a reload', async () => {
  let policy: LockoutPolicy = { ...LOCKOUT_POLICY, ipv6_prefix: 64 };
  const l = new Lockout({ policy: () => policy });
  const ip = '2001:db8:1:2::5';
  l.loggedInHere('carol', ip);
  const finish = inFlight(l, 'carol', ip);
  l.endStanding('carol', ip); // a guess from the same /64
  policy = { ...policy, ipv6_prefix: 48 }; // a reload
  await finish();
  expect(l.knownClient('carol', ip)).toBe(false);
});
