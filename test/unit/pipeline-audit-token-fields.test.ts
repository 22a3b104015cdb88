/**
 * The audit line hid a token sent as the user name, but wrote one sent as `client_id` or
 * `service` whole (a refresh token pasted into a CI variable meant for the client id), and a
 * POST `username` holding `alice:hunter2` (curl's `-u user:password` habit typed at a username
 * prompt) as it came. Found by a review of the HTTP endpoints.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir('regauth-audit-token-fields-');
const password = randomPassword();
let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${hash(password)}"}
acl: [{match: {account: alice}, actions: [pull]}]
`,
  });
});
afterAll(async () => {
  await s.server.close();
  tmp.cleanup();
});

/** A refresh token's shape (a JWE: five parts, the second empty). */
const jwe = `eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..${'a'.repeat(16)}.${'b'.repeat(120)}.${'c'.repeat(22)}`;

async function linesOf(send: () => Promise<Response>): Promise<string[]> {
  const before = s.logs.length;
  await (await send()).arrayBuffer();
  return s.logs.slice(before);
}

test('a token sent as client_id or service is not written to the log', async () => {
  const lines = await linesOf(() =>
    fetch(`${s.url}/auth?service=${jwe}&client_id=${jwe}&scope=repository:alice/app:pull`, {
      headers: { authorization: basic('alice', password) },
    }),
  );
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.filter((l) => l.includes(jwe))).toEqual([]);
  const line = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
  expect(line).toMatchObject({ service: '(a token, not shown)', clientId: '(a token, not shown)' });
});

test('a POST username holding a colon is written up to the colon', async () => {
  const secret = randomPassword();
  const lines = await linesOf(() =>
    fetch(`${s.url}/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        username: `alice:${secret}`,
        password: 'x',
        service: 'registry.test',
        client_id: 'curl',
      }).toString(),
    }),
  );
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.filter((l) => l.includes(secret))).toEqual([]);
  expect(JSON.parse(lines.at(-1)!)).toMatchObject({ account: 'alice:(the rest not shown)' });
});
