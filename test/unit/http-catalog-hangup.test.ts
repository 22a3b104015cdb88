/**
 * Found by a review of what regauth logs (audit line, app log, metrics).
 *
 * docs/operations.md "Outcomes, and how to find denials": a client that hangs up while its decision is under way in an
 * `ext_authz` run has the run cancelled; that is logged at info level, and is not the backend's
 * failure. docs/catalog.md: `catalog unavailable` is logged for "a failed read of the registry
 * (or an ext_authz that cannot answer)". At /v2/_catalog a client's hang-up during its ext_authz
 * run (a CancelledError) is wrapped as the registry's outage (src/catalog/catalog.ts `unavailable`)
 * and logged by src/http/catalog.ts as `catalog unavailable` at warn level, reason
 * "ext_authz: cancelled": any client can write outage lines (and trip an alert on them) by
 * closing its connection, while ext_authz and the registry are healthy.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir('regauth-review-logs-hangup-');
let registry: Server;
let srv: TestServer;

beforeAll(async () => {
  registry = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"repositories":["public/a"]}');
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  const script = join(tmp.dir, 'slow-authz.sh');
  writeFileSync(script, '#!/bin/sh\ncat >/dev/null\nsleep 3\nexit 1\n');
  chmodSync(script, 0o755);
  const port = (registry.address() as AddressInfo).port;
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server:
  addr: "127.0.0.1:0"
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [reg]
users:
  "": {}
ext_authz:
  command: ${script}
  timeout: 10
acl:
  - match: {name: "public/*"}
    actions: [pull]
catalog:
  registry_url: http://127.0.0.1:${port}
  realm: http://h/auth
`,
  });
});
afterAll(async () => {
  await srv.server.close(100);
  await new Promise((r) => registry.close(r));
  tmp.cleanup();
});

test('a /v2/_catalog client that hangs up during its ext_authz run writes no outage line', async () => {
  const reply = await fetch(`${srv.url}/auth?service=regauth-catalog`);
  expect(reply.status).toBe(200);
  const { token } = (await reply.json()) as { token: string };
  const before = srv.logs.length;
  const gone = new AbortController();
  const asked = fetch(`${srv.url}/v2/_catalog`, {
    headers: { authorization: `Bearer ${token}` },
    signal: gone.signal,
  }).catch(() => undefined);
  // The run is under way (it takes 3 s); the client leaves.
  await new Promise((r) => setTimeout(r, 500));
  gone.abort();
  await asked;
  await expect.poll(() => srv.logs.length, { timeout: 5000 }).toBeGreaterThan(before);
  const lines = srv.logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
  // Today: [{"level":40,"status":503,"code":"UNAVAILABLE","reason":"ext_authz: cancelled",
  //          "msg":"catalog unavailable"}]
  expect(lines.filter((l) => l['msg'] === 'catalog unavailable' || (l['level'] as number) >= 40)).toEqual([]);
});
