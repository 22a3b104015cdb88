import { InvalidCredentialsError, type ClientOptions } from 'ldapts';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { LdapClient } from '../../src/authn/ldap/connection.js';
import { Lockout } from '../../src/guard/lockout.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { peopleDirectory, type FakeDirectory } from '../helpers/fake-ldap.js';
import { tempDir } from '../helpers/fixtures.js';
import { loginStatus, proxiedConfig, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review of ldap_auth: directories lock accounts themselves (Active Directory's account
 * lockout threshold, OpenLDAP's ppolicy pwdMaxFailure, 389-ds' passwordMaxFailure), and regauth
 * sends each wrong password it checks to the directory as a bind. With the lockout's defaults one
 * address's five guesses had the directory lock alice's entry, and her right password was refused
 * where she logs in. docs/security.md and docs/backends/ldap.md now say so, and how to keep
 * regauth's limits below the directory's; this checks that advice holds: with
 * `account_max_failures` below the directory's threshold, guesses from many addresses never make
 * it lock the entry, and alice still logs in from home.
 */
/** A typical directory lockout threshold (AD "Account lockout threshold", ppolicy pwdMaxFailure). */
const DIRECTORY_THRESHOLD = 5;

const tmp = tempDir('regauth-ldap-directory-lockout-');
let s: TestServer;
let runtime: Runtime;
let directory: FakeDirectory;

beforeAll(async () => {
  const people = peopleDirectory(tmp.dir, [{ uid: 'alice', mail: 'alice@example.org', password: 'dir-pw' }]);
  directory = people.directory;
  // The directory's own lockout: after DIRECTORY_THRESHOLD refused binds an entry is locked
  // (the fake then refuses every bind of it, the right password's too, as 389-ds does with 53).
  const failures = new Map<string, number>();
  const factory = (options: ClientOptions): LdapClient => {
    const client = directory.factory(options);
    const bind = client.bind.bind(client);
    client.bind = (async (dn: string, password: string) => {
      try {
        await bind(dn, password);
      } catch (err) {
        if (err instanceof InvalidCredentialsError) {
          const n = (failures.get(dn) ?? 0) + 1;
          failures.set(dn, n);
          const entry = directory.entries.find((e) => e.dn === dn);
          if (entry && n >= DIRECTORY_THRESHOLD) entry.attrs['locked'] = 'yes';
        }
        throw err;
      }
    }) as LdapClient['bind'];
    return client;
  };
  s = await startTestServer({
    dir: tmp.dir,
    // regauth's limits below the directory's threshold, as docs/backends/ldap.md advises; a
    // short credential cache, so that the owner's next login is checked against the directory.
    config: proxiedConfig(
      `${people.section}credential_cache: {ttl: 1}\nlockout: {max_failures: 2, account_max_failures: 3}\n`,
    ),
    runtimeDeps: { ldapClient: factory },
    runtime: (loaded) => (runtime = loaded),
    server: { lockout: new Lockout({ maxEntries: 1000, policy: () => runtime.config.lockout }) },
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

test("guesses from many addresses stay under the directory's threshold: alice still logs in from home", async () => {
  const home = '10.0.0.1';
  // alice logs in from her usual address.
  expect(await loginStatus(s.url, home, 'alice', 'dir-pw')).toBe(200);
  // Four attacker addresses, three guesses each.
  const guesses: number[] = [];
  for (let a = 0; a < 4; a++) {
    for (let i = 0; i < 3; i++)
      guesses.push(await loginStatus(s.url, `203.0.113.${a + 1}`, 'alice', `guess-${a}-${i}`));
  }
  // Three wrong binds reach the directory (account_max_failures); every later guess gets 429.
  expect(guesses.filter((g) => g === 401)).toHaveLength(3);
  expect(guesses.filter((g) => g === 429)).toHaveLength(9);
  const refused = directory.binds.filter((b) => b.dn.startsWith('uid=alice,')).length - 1;
  expect(refused).toBe(3);
  expect(refused).toBeLessThan(DIRECTORY_THRESHOLD);
  // Past the credential cache's ttl, alice's right password from home is checked by a bind again.
  await new Promise((r) => setTimeout(r, 1_200));
  expect(directory.entries.find((e) => e.dn.startsWith('uid=alice,'))!.attrs['locked']).toBeUndefined();
  expect(await loginStatus(s.url, home, 'alice', 'dir-pw')).toBe(200);
});
