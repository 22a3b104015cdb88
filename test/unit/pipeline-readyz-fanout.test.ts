import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Authenticator } from '../../src/authn/types.js';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Found by a review of the HTTP limits: `/readyz` runs every readiness check (the LDAP directory's
// check opens a connection of its own with initial_bind_as_user, a Redis PING with a shared store)
// on every request, outside ldap_auth.max_concurrency and without sharing a probe already running.
// node dispatches requests pipelined on one connection at once, so one client on one connection
// (well under server.max_connections: 2 here) started as many checks at the same time as it
// pipelined requests: thousands of directory connections, none of them bound by max_connections,
// the bound docs/security.md gives against a flood using up the process's file descriptors.

const tmp = tempDir('regauth-review-readyz-');
let srv: TestServer;
let inFlight = 0;
let peak = 0;
let calls = 0;

beforeAll(async () => {
  // A backend with a readiness check, standing in for the LDAP directory (each check a session of
  // its own, answering after 50 ms).
  const directory: Authenticator = {
    name: 'ldap_auth',
    authenticate: () => Promise.resolve({ outcome: 'no_match' }),
    check: async () => {
      calls += 1;
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 50));
      inFlight -= 1;
    },
  };
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `server: {addr: "127.0.0.1:0", max_connections: 2}\ntoken: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nusers: {}\nacl: []\n`,
    runtime: (base) => ({ ...base, authenticators: [...base.authenticators, directory] }),
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

test('requests pipelined on one connection do not run the readiness checks all at once', async () => {
  const requests = 100;
  const replies = await new Promise<number>((resolve) => {
    const s = connect(Number(new URL(srv.url).port), '127.0.0.1');
    let text = '';
    const done = () => resolve((text.match(/HTTP\/1\.1 200 /g) ?? []).length);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if ((text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length >= requests) {
        s.destroy();
        done();
      }
    });
    s.on('close', done);
    s.write('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(requests));
    setTimeout(() => s.destroy(), 25_000);
  });
  // Every probe is still answered (ready), by a check run for it or by one it shared.
  expect(replies).toBe(requests);
  expect(calls).toBeGreaterThan(0);
  // One connection: at most a check or two at a time (it was one per pipelined request: 100).
  expect(peak).toBeLessThanOrEqual(2);
}, 30_000);
