import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LoginQueue } from '../../src/guard/login-queue.js';
import { createMetrics } from '../../src/pipeline/metrics.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { PasswordVerifier } from '../../src/authn/password.js';
import bcrypt from 'bcryptjs';

// Found by a review. docs/security.md ("Metrics"): "A failed login counts in regauth_token_requests_total{outcome="denied"}";
// docs/operations.md ("Login queue"): "The 503 and 429 answers are also counted in
// regauth_token_requests_total". docs/catalog.md: each page "authenticates them like a token request".
// A password checked through the registry page (/ui/, Basic mode) is neither: a guessing campaign run
// against /ui/ never shows in regauth_token_requests_total, while its queue refusals do show in
// regauth_login_queue_rejections_total (the two metrics disagree).
const tmp = tempDir();
const alicePassword = randomPassword();
const metrics = createMetrics();
let registry: Server;
let srv: TestServer;
let runtime: Runtime;
let release: (() => void) | undefined;
let gate: Promise<void> | undefined;

// A verifier that can be held, so a login can be kept in the queue.
const verifier: PasswordVerifier = {
  async verify(password, h) {
    if (gate) await gate;
    return bcrypt.compareSync(password.reveal(), h);
  },
  async burn() {
    if (gate) await gate;
  },
};

beforeAll(async () => {
  registry = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"repositories":["public/a"]}');
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  const port = (registry.address() as AddressInfo).port;
  srv = await startTestServer({
    dir: tmp.dir,
    runtimeDeps: { verifier },
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [reg]
users:
  alice: {password: "${hash(alicePassword)}"}
login_queue: {max_pending: 10, per_client: 1, retry_after: 4}
acl:
  - match: {name: "public/*"}
    actions: [pull]
catalog:
  registry_url: http://127.0.0.1:${port}
  realm: http://127.0.0.1/auth
`,
    server: {
      metrics,
      loginQueue: new LoginQueue({
        policy: () => runtime.loginQueue,
        onChange: (n) => metrics.loginQueuePending.set(n),
        onReject: (reason) => metrics.loginQueueRejections.inc({ reason }),
      }),
    },
  });
  runtime = srv.runtime;
});
afterAll(async () => {
  release?.();
  await srv.server.close(100);
  await new Promise((r) => registry.close(r));
  tmp.cleanup();
});

async function counted(outcome: string): Promise<number> {
  const { values } = await metrics.tokenRequests.get();
  return values.filter((v) => v.labels['outcome'] === outcome).reduce((n, v) => n + v.value, 0);
}

test('a wrong password on the registry page counts as outcome="denied" (as one on /auth does)', async () => {
  const viaAuth = await fetch(`${srv.url}/auth?service=reg`, {
    headers: { authorization: basic('alice', 'wrong-1'), 'x-forwarded-for': '192.0.2.1' },
  });
  expect(viaAuth.status).toBe(401);
  expect(await counted('denied')).toBe(1);

  const viaPage = await fetch(`${srv.url}/ui/`, {
    headers: { authorization: basic('alice', 'wrong-2'), 'x-forwarded-for': '192.0.2.2' },
  });
  await viaPage.arrayBuffer();
  expect(viaPage.status).toBe(401);
  // Fails: still 1, the page's failed login is not counted.
  expect(await counted('denied')).toBe(2);
});

test('a login-queue 429 on the registry page counts in regauth_token_requests_total (outcome="locked")', async () => {
  gate = new Promise<void>((r) => (release = r));
  // Holds the client's one place.
  const holding = fetch(`${srv.url}/ui/`, {
    headers: { authorization: basic('alice', 'wrong-3'), 'x-forwarded-for': '192.0.2.9' },
  });
  while (((await metrics.loginQueuePending.get()).values[0]?.value ?? 0) < 1) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const before = await counted('locked');
  const turned = await fetch(`${srv.url}/ui/`, {
    headers: { authorization: basic('alice', 'wrong-4'), 'x-forwarded-for': '192.0.2.9' },
  });
  await turned.arrayBuffer();
  expect(turned.status).toBe(429);
  const rejections = (await metrics.loginQueueRejections.get()).values.find(
    (v) => v.labels['reason'] === 'per_client',
  )?.value;
  expect(rejections).toBe(1);
  release!();
  gate = undefined;
  await (await holding).arrayBuffer();
  // Fails: the rejection is counted in regauth_login_queue_rejections_total but not here.
  expect(await counted('locked')).toBe(before + 1);
});
