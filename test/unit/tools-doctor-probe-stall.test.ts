import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { probeRealm } from '../../src/tools/doctor.js';

/**
 * Found by a review. docs/cli.md "`doctor --probe`": "nothing answering there (or another server answering) is a
 * finding". A realm that answers its headers and then stalls the body (a half-dead proxy, a
 * slowloris-ish server) must be a finding (exit 1), not a crash reported as a regauth bug
 * (exit 70 with a DOMException stack): the 5 s timeout signal also aborts `res.text()`,
 * which probeRealm does not catch.
 */
let server: Server;
let realm = '';
beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.write('{"errors":['); // and never ends
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('a realm that stalls its body is a finding, not an uncaught TimeoutError', async () => {
  const outcome = await probeRealm(realm, 'registry.test', 300).then(
    (check) => ({ check }),
    (err: unknown) => ({ thrown: String(err) }),
  );
  expect(outcome).not.toHaveProperty('thrown');
  expect(outcome).toMatchObject({ check: { name: 'realm', ok: false } });
});
