import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * `/v2/_catalog` asks ext_authz for `registry:catalog:*` when no ACL rule decides it: those runs
 * are bound per client address and cancelled with their request, as the token endpoint's are
 * (docs/backends/ext.md "One client cannot starve the others").
 */
const tmp = tempDir();
const alicePassword = randomPassword();
const runs = join(tmp.dir, 'runs.log');
let registry: Server;

beforeAll(async () => {
  registry = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"repositories":["public/a","private/b"]}');
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await new Promise((r) => registry.close(r));
  tmp.cleanup();
});

async function stack(limits: { maxConcurrency: number; maxPerClient: number }): Promise<TestServer> {
  const script = join(tmp.dir, 'slow-authz.sh');
  // Each run leaves a line, then takes 2 s to say no.
  writeFileSync(script, `#!/bin/sh\ncat >/dev/null\necho run >> ${runs}\nsleep 2\nexit 1\n`);
  chmodSync(script, 0o755);
  writeFileSync(runs, '');
  const port = (registry.address() as AddressInfo).port;
  return startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server:
  addr: "127.0.0.1:0"
  trusted_proxies: [127.0.0.1]
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [reg]
users:
  "": {}
  alice: {password: "${hash(alicePassword)}"}
ext_authz:
  command: ${script}
  timeout: 5
  max_concurrency: ${limits.maxConcurrency}
  max_per_client: ${limits.maxPerClient}
acl:
  - match: {name: "public/*"}
    actions: [pull]
catalog:
  registry_url: http://127.0.0.1:${port}
  realm: http://h/auth
`,
  });
}

const from = (ip: string) => ({ 'x-forwarded-for': ip });
const runCount = () => readFileSync(runs, 'utf8').split('\n').filter(Boolean).length;

async function catalogToken(srv: TestServer, ip: string): Promise<string> {
  const reply = await fetch(`${srv.url}/auth?service=regauth-catalog`, { headers: from(ip) });
  expect(reply.status).toBe(200);
  return ((await reply.json()) as { token: string }).token;
}

test('one address holds at most max_per_client catalog runs; the rest get 429 at once', async () => {
  const srv = await stack({ maxConcurrency: 2, maxPerClient: 1 });
  try {
    const token = await catalogToken(srv, '203.0.113.1');
    const flood = Array.from({ length: 5 }, () =>
      fetch(`${srv.url}/v2/_catalog`, {
        headers: { authorization: `Bearer ${token}`, ...from('203.0.113.1') },
      }).then(async (r) => ({
        status: r.status,
        retryAfter: r.headers.get('retry-after'),
        body: await r.json(),
      })),
    );
    // Another address still gets the second slot while the flood runs.
    await new Promise((r) => setTimeout(r, 300));
    const victim = await fetch(`${srv.url}/auth?service=reg&scope=repository:private/b:pull`, {
      headers: from('198.51.100.7'),
    });
    expect(victim.status).toBe(200);
    const replies = await Promise.all(flood);
    const refused = replies.filter((r) => r.status === 429);
    expect(refused).toHaveLength(4);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    // In the registry's error format, with when to ask again.
    for (const r of refused) {
      expect(r.retryAfter).toMatch(/^[1-9]\d*$/);
      expect(r.body).toEqual({ errors: [{ code: 'TOOMANYREQUESTS', message: 'too many requests' }] });
    }
    // The flood's one run and the victim's.
    expect(runCount()).toBe(2);
  } finally {
    await srv.server.close(100);
  }
}, 30_000);

test('the addresses of one IPv6 /64 share one max_per_client, as the lockout counts them', async () => {
  const srv = await stack({ maxConcurrency: 2, maxPerClient: 1 });
  try {
    const token = await catalogToken(srv, '2001:db8:5:6::1');
    // One subscriber, a fresh address of its /64 per request.
    const replies = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        fetch(`${srv.url}/v2/_catalog`, {
          headers: { authorization: `Bearer ${token}`, ...from(`2001:db8:5:6::${i + 10}`) },
        }).then((r) => r.status),
      ),
    );
    expect(replies.filter((s) => s === 429)).toHaveLength(4);
    expect(replies.filter((s) => s === 200)).toHaveLength(1);
  } finally {
    await srv.server.close(100);
  }
}, 30_000);

/**
 * With the one slot held by a catalog request from 203.0.113.1, starts `leaving` (requests that
 * wait for the slot), lets their clients go, and gives how many runs there were once the slot
 * came free; each of them must have ended as 'gone', the holder with 200.
 */
async function runsAfterLeaving(
  srv: TestServer,
  leaving: (signal: AbortSignal) => Promise<unknown>[],
): Promise<number> {
  const first = await catalogToken(srv, '203.0.113.1');
  const holder = fetch(`${srv.url}/v2/_catalog`, {
    headers: { authorization: `Bearer ${first}`, ...from('203.0.113.1') },
  });
  await new Promise((r) => setTimeout(r, 300));
  const gone = new AbortController();
  const waiting = leaving(gone.signal).map((p) => p.catch(() => 'gone'));
  await new Promise((r) => setTimeout(r, 300));
  gone.abort();
  expect(await Promise.all(waiting)).toEqual(waiting.map(() => 'gone'));
  expect((await holder).status).toBe(200);
  // Past the moment the slot came free.
  await new Promise((r) => setTimeout(r, 1000));
  return runCount();
}

test('a catalog request whose client went away starts no run', async () => {
  const srv = await stack({ maxConcurrency: 1, maxPerClient: 1 });
  try {
    // Two, from other addresses, wait for the one slot; their clients leave.
    const runs = await runsAfterLeaving(srv, (signal) =>
      ['203.0.113.2', '203.0.113.3'].map(async (ip) =>
        fetch(`${srv.url}/v2/_catalog`, {
          headers: { authorization: `Bearer ${await catalogToken(srv, ip)}`, ...from(ip) },
          signal,
        }),
      ),
    );
    // Nothing ran for the clients that left.
    expect(runs).toBe(1);
  } finally {
    await srv.server.close(100);
  }
}, 30_000);

test("the registry page's list: a browser that left starts no run", async () => {
  const srv = await stack({ maxConcurrency: 1, maxPerClient: 1 });
  try {
    // alice opens the page from another address; it waits for the slot, and she leaves.
    const runs = await runsAfterLeaving(srv, (signal) => [
      fetch(`${srv.url}/ui/`, {
        headers: { authorization: basic('alice', alicePassword), ...from('203.0.113.2') },
        signal,
      }),
    ]);
    expect(runs).toBe(1);
  } finally {
    await srv.server.close(100);
  }
}, 30_000);
