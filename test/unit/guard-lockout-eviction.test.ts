import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js';

/**
 * With jwt_auth configured, a made-up account with a token-shaped password is refused without
 * any bcrypt: thousands of such failures a second. They must not push a real account's count out
 * of the lockout's memory (here only 50 pairs per table, to make the flood short).
 */

const tmp = tempDir();
const password = randomPassword();
let s: TestServer;
let runtime: Runtime;
let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await startTestIssuer();
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
lockout: {max_failures: 3, backoff: 60}
users:
  alice: {password: "${hash(password)}"}
jwt_auth:
  issuers:
    - issuer: ${issuer.url}
      audience: registry
acl: [{match: {}, actions: [pull]}]
`,
    runtime: (base) => (runtime = base),
    server: { lockout: new Lockout({ maxEntries: 50, policy: () => runtime.config.lockout }) },
  });
});
afterAll(async () => {
  await s.server.close(100);
  await issuer.stop();
  tmp.cleanup();
});

const status = async (user: string, pw: string) =>
  (await fetch(`${s.url}/auth?service=registry`, { headers: { authorization: basic(user, pw) } })).status;

test("a flood of failures for made-up accounts does not reset a real account's count", async () => {
  expect(await status('alice', 'wrong-1')).toBe(401);
  expect(await status('alice', 'wrong-2')).toBe(401);
  for (let batch = 0; batch < 10; batch++) {
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const name = `nobody-${batch}-${i}`;
        // Half with an unsigned token of the trusted issuer (jwt_auth refuses it: no bcrypt),
        // half with a plain password (no backend knows the name).
        return status(name, i % 2 === 0 ? issuer.unsigned({ sub: name, aud: 'registry' }) : 'x');
      }),
    );
    expect(replies.every((r) => r === 401)).toBe(true);
  }
  // alice's third failure still locks her pair; then even her password is refused.
  expect(await status('alice', 'wrong-3')).toBe(401);
  expect(await status('alice', password)).toBe(429);
});
