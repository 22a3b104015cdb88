import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createMetrics } from '../../src/pipeline/metrics.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review of 645e753. docs/security.md now reads: "A failed login counts in
 * regauth_token_requests_total{outcome="denied"} and its duration histogram (a login on the
 * registry page /ui/ too ...); the audit log keeps the deciding backend and the reason (`unknown
 * account`, `wrong password`, …) for the operator." and docs/operations.md: "To find denials, look
 * for ... `outcome` `denied`". A page login is now counted as denied, but no log line records it
 * as one: the page logs `registry page` with status 401 and no account, authenticator, reason or
 * outcome. A denied alert raised by guessing on /ui/ had nothing in the log to explain it. The
 * page's logins now write the token endpoint's audit line.
 */
const tmp = tempDir();
const metrics = createMetrics();
let registry: Server;
let srv: TestServer;

beforeAll(async () => {
  registry = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"repositories":["public/a"]}');
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  const port = (registry.address() as AddressInfo).port;
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [reg]}
users:
  alice: {password: "${hash(randomPassword())}"}
acl:
  - match: {name: "public/*"}
    actions: [pull]
catalog:
  registry_url: http://127.0.0.1:${port}
  realm: http://127.0.0.1/auth
`,
    server: { metrics },
  });
});
afterAll(async () => {
  await srv.server.close(100);
  await new Promise((r) => registry.close(r));
  tmp.cleanup();
});

test('a wrong password on /ui/, counted as outcome="denied", is in the log as a denial with its account and reason', async () => {
  const res = await fetch(`${srv.url}/ui/`, { headers: { authorization: basic('alice', 'wrong-pw') } });
  await res.arrayBuffer();
  expect(res.status).toBe(401);
  const denied = (await metrics.tokenRequests.get()).values
    .filter((v) => v.labels['outcome'] === 'denied')
    .reduce((n, v) => n + v.value, 0);
  expect(denied).toBe(1);
  const lines = srv.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
  const logged = lines.filter((l) => l['status'] === 401);
  expect(logged.length).toBeGreaterThan(0);
  // As /auth's audit line would have it: outcome denied, the account, the backend, the reason.
  expect(
    logged
      .filter((l) => l['outcome'] !== undefined)
      .map((l) => ({ outcome: l['outcome'], account: l['account'], reason: l['reason'] })),
  ).toEqual([{ outcome: 'denied', account: 'alice', reason: 'wrong password' }]);
});
