/**
 * Found by a review of e6038b6 (src/guard/lockout.ts withLockout, the alias branch). The change makes a wrong
 * password typed under an alias (ldap_auth's mail term) answer 429, as a right one does, when the
 * stored account got locked for the client while the bind was in flight (guesses typed as `alice`
 * from the same address): before, the wrong one was told 401 and the right one 429.
 *
 * The two 429s still come after different store work. The wrong password's refusal carries the
 * pre-bind reading (`heldFor: 0`), so the lock is read in the same round trip as both failures:
 * one round trip after the bind. The right password goes through the chain's respelled(), which
 * reads the lock again after the bind (a round trip of its own) and refuses with `heldFor` > 0;
 * withLockout then counts both failures: a second round trip. With a shared store (Redis across
 * a network) the right password's 429 comes one round trip later than a wrong one's: the oracle
 * the change closed is open again in time (docs/security.md "Brute-force protection: what the
 * lockout guarantees", Spellings: a right one "is then refused as a wrong one is (counted as a failure, after the same work …)").
 *
 * A wrong password's 429 in that race now waits one more read, as the right one's read waits.
 *
 * Store round trips are counted, not timed, with a store answered in rounds (roundStore in
 * test/helpers/lockout.ts), so a busy machine cannot blur them.
 */
import { expect, test } from 'vitest';
import { authenticate } from '../../src/authn/chain.js';
import type { PasswordVerifier } from '../../src/authn/password.js';
import { UnauthorizedError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { Lockout, withLockout } from '../../src/guard/lockout.js';
import { MemoryLockoutStore } from '../../src/store/memory.js';
import { aliceDirectory } from '../helpers/fake-ldap.js';
import { LOCKOUT_POLICY as POLICY, roundStore } from '../helpers/lockout.js';

const ALICE_DN = 'uid=alice,ou=people,dc=example,dc=org';
const CLIENT = '198.51.100.7';

/**
 * One login typed as alice's mail address with `password`, through the chain and ldap_auth (its
 * filter has a mail term), alice being locked for the client (max_failures guesses typed as
 * `alice` from the same address) while the bind is in flight. Its answer and its store rounds.
 */
async function aliasLoginLockedMidBind(password: string): Promise<{ code: unknown; rounds: number }> {
  const { directory, authn } = aliceDirectory({
    filter: '(&(objectClass=inetOrgPerson)(|(uid=${account})(mail=${account})))',
  });
  directory.entries[1]!.attrs['mail'] = 'alice@example.org';
  const inner = new MemoryLockoutStore(100);
  const { store, rounds } = roundStore(inner);
  const lockout = new Lockout({ store, shared: true, policy: () => POLICY });
  // The other spelling's guesses, through the same state (their own rounds are not this login's).
  const typedAsAlice = new Lockout({ store: inner, policy: () => POLICY });
  const verifier: PasswordVerifier = { verify: async () => false, burn: async () => undefined };

  let open!: () => void;
  directory.userBindDelay = new Promise<void>((r) => (open = r));
  const account = 'alice@example.org';
  const secret = new Secret(password);
  const attempt = withLockout(lockout, { account, password: secret, ip: CLIENT }, async (heldBack) => {
    const result = await authenticate(
      [authn],
      { account, password: secret, ...(heldBack ? { heldBack } : {}) },
      verifier,
    );
    if (result.outcome === 'denied') {
      throw new UnauthorizedError(undefined, {
        authenticator: result.by,
        reason: result.reason,
        ...(result.account !== undefined ? { account: result.account } : {}),
        ...(result.heldFor !== undefined ? { heldFor: result.heldFor } : {}),
      });
    }
    if (result.outcome !== 'authenticated') throw new UnauthorizedError();
    return { account: result.account ?? account };
  });
  const counting = rounds(attempt);
  // The bind of alice's entry is in flight (the lock was read before it: not locked then)...
  for (let i = 0; i < 500 && !directory.binds.some((b) => b.dn === ALICE_DN); i++) {
    await new Promise((r) => setTimeout(r, 2));
  }
  expect(directory.binds.some((b) => b.dn === ALICE_DN)).toBe(true);
  // ...when max_failures wrong passwords typed as alice from the same client lock alice.
  for (let i = 0; i < POLICY.max_failures; i++) await typedAsAlice.failure('alice', CLIENT);
  expect(await typedAsAlice.blocked('alice', CLIENT)).toBeGreaterThan(0);
  open();
  const code = await attempt.then(
    () => 'granted',
    (e: unknown) => (e as { code?: unknown }).code,
  );
  return { code, rounds: await counting };
}

test('alice locked while an alias guess was bound: a right password is withheld after as many store round trips as a wrong one', async () => {
  const wrong = await aliasLoginLockedMidBind('not-the-password');
  const right = await aliasLoginLockedMidBind('alice-pw');
  // The same answer (what e6038b6 fixed)...
  expect(wrong.code).toBe('ERR_TOO_MANY_REQUESTS');
  expect(right.code).toBe('ERR_TOO_MANY_REQUESTS');
  // ...after the same store work: the right one must not take a round trip more.
  expect(right.rounds).toBe(wrong.rounds);
});
