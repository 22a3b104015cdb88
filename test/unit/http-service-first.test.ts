import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Found by a review of the HTTP surface. docs/http-api.md: a `service` outside `token.services` is a 400 ("as for any request, a service
// token.services does not list is 400 first"), and docs/security.md: "Bad input changes nothing."
// The service is refused inside issueToken, i.e. after the login queue, the lockout's reservation
// and the known-client bookkeeping of issueGuarded (src/http/token.ts) have run: a request naming a
// service regauth does not serve is answered with the lockout's 429 (or the queue's 429/503), and a
// wrong password in it ends the client's standing with the credential cache, though no password
// was checked and the request was refused as malformed.

const tmp = tempDir();
const password = randomPassword();
let s: TestServer;
let runtime: Runtime;
let lockout: Lockout;

beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry]}
lockout: {max_failures: 2, backoff: 60}
users:
  alice: {password: "${hash(password)}"}
  bob: {password: "${hash(password)}"}
acl: [{match: {}, actions: [pull]}]
`,
    runtime: (loaded) => (runtime = loaded),
    server: { lockout: (lockout = new Lockout({ maxEntries: 1000, policy: () => runtime.config.lockout })) },
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

async function get(user: string, pw: string, service: string, ip: string): Promise<[number, string]> {
  const res = await fetch(`${s.url}/auth?service=${service}&scope=repository:a:pull`, {
    headers: { authorization: basic(user, pw), 'x-forwarded-for': ip },
  });
  return [res.status, await res.text()];
}

test('a service token.services does not list is 400 first, also for a pair the lockout holds back', async () => {
  for (let i = 0; i < 3; i++) await get('alice', 'wrong', 'registry', '10.0.0.1');
  expect((await get('alice', 'wrong', 'registry', '10.0.0.1'))[0]).toBe(429);
  const [status, body] = await get('alice', 'wrong', 'bogus', '10.0.0.1');
  // Today: 429 TOOMANYREQUESTS from the lockout.
  expect([status, body]).toEqual([
    400,
    JSON.stringify({ errors: [{ code: 'BAD_REQUEST', message: 'unknown service "bogus"' }] }),
  ]);
});

test('a request refused for its service changes nothing: its client stays known to the credential cache', async () => {
  // bob logs in from 10.0.0.2: a known client, whom the credential cache answers from now on.
  expect((await get('bob', password, 'registry', '10.0.0.2'))[0]).toBe(200);
  expect(lockout.knownClient('bob', '10.0.0.2')).toBe(true);
  // A malformed request (a service regauth does not serve) with another password: 400, no
  // password checked.
  expect((await get('bob', 'typo', 'bogus', '10.0.0.2'))[0]).toBe(400);
  // Today: issueGuarded ended the standing before issueToken refused the service.
  expect(lockout.knownClient('bob', '10.0.0.2')).toBe(true);
});
