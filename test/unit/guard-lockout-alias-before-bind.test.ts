/**
 * Found by a review of the lockout. With a directory that finds an entry under another spelling
 * (a filter with a mail term: `alice@example.org` is alice), the attempt was reserved against the
 * spelling typed only, and alice's own lock and account cap were read after the directory had
 * checked the password (a bind of her entry). Once alice's `account_max_failures` was used up,
 * guesses typed as her mail address from fresh addresses still reached the directory as binds of
 * her entry: enough for its own lockout (AD's threshold, ppolicy's pwdMaxFailure) to lock her out
 * everywhere. docs/backends/ldap.md promises "past `account_max_failures` in a window, a client
 * that has not logged in to the account gets `429` without a bind, and the directory never counts
 * enough wrong passwords to lock it". The stored account's lock is now read before the bind.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { peopleDirectory } from '../helpers/fake-ldap.js';
import { basic, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ACCOUNT_MAX = 3;
const ALICE_DN = 'uid=alice,ou=people,dc=example,dc=org';
const tmp = tempDir('regauth-lockout-alias-');
const password = randomPassword();
let s: TestServer;
let bindsOfAlice: () => number;

beforeAll(async () => {
  const { directory, section } = peopleDirectory(tmp.dir, [
    { uid: 'alice', mail: 'alice@example.org', password },
  ]);
  bindsOfAlice = () => directory.binds.filter((b) => b.dn === ALICE_DN).length;
  let runtime: Runtime | undefined;
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
lockout: {max_failures: 2, backoff: 60, account_max_failures: ${ACCOUNT_MAX}}
${section}acl: [{match: {account: alice}, actions: [pull]}]
`,
    runtimeDeps: { ldapClient: directory.factory },
    runtime: (loaded) => (runtime = loaded),
    server: { lockout: new Lockout({ maxEntries: 1000, policy: () => runtime!.config.lockout }) },
  });
});
afterAll(async () => {
  await s.server.close();
  tmp.cleanup();
});

async function status(account: string, pw: string, client: string): Promise<number> {
  const res = await fetch(`${s.url}/auth?service=registry`, {
    headers: { authorization: basic(account, pw), 'x-forwarded-for': client },
  });
  await res.arrayBuffer();
  return res.status;
}

test('past alice’s account cap, guesses typed as her alias get 429 without a bind of her entry', async () => {
  // alice's cap used up from three addresses, one guess each.
  for (let i = 0; i < ACCOUNT_MAX; i++)
    expect(await status('alice', `guess-${i}`, `198.51.100.${i}`)).toBe(401);
  const before = bindsOfAlice();
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++)
    statuses.push(await status('alice@example.org', `alias-guess-${i}`, `203.0.113.${i}`));
  expect({ binds: bindsOfAlice() - before, statuses }).toEqual({ binds: 0, statuses: Array(6).fill(429) });
  // The right password from a fresh address is refused the same way (429), without a bind.
  expect(await status('alice@example.org', password, '203.0.113.99')).toBe(429);
  expect(bindsOfAlice() - before).toBe(0);
});
