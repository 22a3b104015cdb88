/**
 * Found by a review of the lockout (alias spellings). docs/security.md "Brute-force protection:
 * what the lockout guarantees", Spellings: "a password checked while such a spelling locked the
 * account meanwhile (guesses under both in flight at once) gets `429` too, its answer withheld
 * and, right or wrong, counted as a failure, so no more answers are told than the lock allows".
 *
 * A directory holds alice@example.org as alice. ldap_auth reads alice's lock before it binds an
 * alias's guess (Credentials.heldBack), and hands that reading (`heldFor: 0`) on with its refusal;
 * withLockout then answers the refusal with that reading (`decision.heldFor ?? lockOf(...)`)
 * instead of reading alice's lock again once the password was checked. A right password in the
 * same place is read again after the bind (chain.ts respelled) and gets 429. So when alice gets
 * locked while an alias guess's bind is in flight (guesses typed as `alice` from the same
 * address), a wrong password is told 401 and a right one 429: the answer is told, and more
 * passwords than max_failures are answered for one client. (test/unit/guard-lockout-respelled-race
 * covers the race with a stand-in backend whose refusal carries no `heldFor`, so it re-reads.)
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { peopleDirectory, type FakeDirectory } from '../helpers/fake-ldap.js';
import { basic, randomPassword, tempDir } from '../helpers/fixtures.js';
import { proxiedConfig, startTestServer, type TestServer } from '../helpers/server.js';

const MAX_FAILURES = 2;
const ALICE_DN = 'uid=alice,ou=people,dc=example,dc=org';
const tmp = tempDir('regauth-review-alias-race-');
const password = randomPassword();
let s: TestServer;
let dir: FakeDirectory;

beforeAll(async () => {
  const { directory, section } = peopleDirectory(tmp.dir, [
    { uid: 'alice', mail: 'alice@example.org', password },
  ]);
  dir = directory;
  let runtime: Runtime | undefined;
  s = await startTestServer({
    dir: tmp.dir,
    config: proxiedConfig(
      `lockout: {max_failures: ${MAX_FAILURES}, backoff: 60, account_max_failures: 100000}\n${section}credential_cache: {ttl: 0}\n`,
    ),
    runtimeDeps: { ldapClient: directory.factory },
    runtime: (loaded) => (runtime = loaded),
    server: { lockout: new Lockout({ maxEntries: 1000, policy: () => runtime!.config.lockout }) },
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

async function status(account: string, pw: string, client: string): Promise<number> {
  const res = await fetch(`${s.url}/auth?service=registry`, {
    headers: { authorization: basic(account, pw), 'x-forwarded-for': client },
  });
  await res.arrayBuffer();
  return res.status;
}

const bindsOfAlice = () => dir.binds.filter((b) => b.dn === ALICE_DN).length;

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

test('alias guesses whose bind was in flight when alice got locked: right and wrong get the same answer, and no more than max_failures are told', async () => {
  const client = '198.51.100.7';
  // The alias guesses' binds of alice's entry are held.
  let open!: () => void;
  dir.userBindDelay = new Promise<void>((r) => (open = r));
  const before = bindsOfAlice();
  const wrong = status('alice@example.org', 'not-the-password', client);
  const right = status('alice@example.org', password, client);
  await until(() => bindsOfAlice() - before === 2);
  // Meanwhile, from the same client, max_failures wrong passwords typed as alice lock alice.
  dir.userBindDelay = undefined;
  const typed: number[] = [];
  for (let i = 0; i < MAX_FAILURES; i++) typed.push(await status('alice', `guess-${i}`, client));
  expect(typed).toEqual(Array(MAX_FAILURES).fill(401));
  expect(await status('alice', 'guess-again', client)).toBe(429);
  // The held binds now answer: the directory refuses one and accepts the other.
  open();
  const alias = { wrong: await wrong, right: await right };
  // Both were checked while alice was being locked: both withheld, alike.
  expect(alias).toEqual({ wrong: 429, right: 429 });
  // 401s told to this client for alice: no more than max_failures.
  expect([...typed, alias.wrong, alias.right].filter((st) => st === 401).length).toBeLessThanOrEqual(
    MAX_FAILURES,
  );
});
