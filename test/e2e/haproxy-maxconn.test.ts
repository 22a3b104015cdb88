// Found by a review: docs/deployment.md "Slow clients" promises at most 256 requests at once to each
// regauth replica, the rest waiting in HAProxy. The backend is a server-template of ten slots with
// maxconn 256 each, and an IP address in REGAUTH_ADDR (the quick start, the tests without Docker)
// goes to every slot: 2,560 requests at once could reach one regauth, five times its default
// max_connections. With an IP address the docs now say to set REGAUTH_SLOTS=1.
//
// A stand-in regauth (it answers /healthz at once and holds every other request) counts the
// requests it holds at once; 300 complete token requests from three client addresses (100 each,
// HAProxy's per-source limit) go through examples/haproxy.cfg.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { REPO_ROOT, startHaproxy, type Haproxy } from './harness/deploy.js';
import { freePort } from './harness/ports.js';

let backend: Server;
let haproxy: Haproxy;
let inFlight = 0;
let peak = 0;
/** Once the count is read, every request is answered at once (those queued in HAProxy too). */
let releasing = false;
const held: ServerResponse[] = [];

beforeAll(async () => {
  backend = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/healthz' || releasing) return void res.end('{"status":"ok"}');
    inFlight++;
    peak = Math.max(peak, inFlight);
    held.push(res);
    res.on('close', () => inFlight--);
  });
  backend.maxConnections = 100_000;
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const port = (backend.address() as AddressInfo).port;
  haproxy = await startHaproxy({
    configPath: join(REPO_ROOT, 'examples/haproxy.cfg'),
    env: {
      REGISTRY_ADDR: `127.0.0.1:${await freePort()}`,
      REGAUTH_ADDR: `127.0.0.1:${port}`,
      REGAUTH_SLOTS: '1',
    },
  });
  // Let the health checks mark the slots up.
  await new Promise((r) => setTimeout(r, 1500));
}, 30_000);

afterAll(async () => {
  for (const res of held) res.destroy();
  await haproxy?.stop();
  backend?.closeAllConnections();
  await new Promise((r) => backend?.close(r));
});

function tokenRequest(localAddress: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: haproxy.port,
        path: '/auth?service=localhost',
        localAddress,
        agent: false,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(-1));
    req.end();
  });
}

test('no more than 256 requests at once reach one regauth through examples/haproxy.cfg', async () => {
  const sources = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
  const pending = sources.flatMap((src) => Array.from({ length: 100 }, () => tokenRequest(src)));
  // Wait until the stand-in holds what HAProxy lets through (or 4 s, below timeout queue 5s).
  const deadline = Date.now() + 4000;
  while (Date.now() < deadline && inFlight < 300) await new Promise((r) => setTimeout(r, 50));
  const seen = peak;
  releasing = true;
  for (const res of held) res.end('{}');
  await Promise.all(pending);
  // The documented bound: maxconn 256 per replica, the rest queued in HAProxy.
  expect(seen, `the one regauth held ${seen} requests at once`).toBe(256);
}, 30_000);
