import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// The registry page in Basic mode answered credentials it could not read (a password the browser
// sent as Latin-1, a name with a space, another scheme) with a 400 page and no challenge: the
// browser kept sending the same credentials, and its user could never type others. Such
// credentials now get the 401 and its challenge, as wrong ones do. Found by a review.
const tmp = tempDir();
const alicePassword = randomPassword();
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
    config: ({ keyPath, certPath }) => `token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [reg]
users:
  alice: {password: "${hash(alicePassword)}"}
acl:
  - match: {name: "public/*"}
    actions: [pull]
catalog:
  registry_url: http://127.0.0.1:${port}
  realm: http://127.0.0.1/auth
`,
  });
});
afterAll(async () => {
  await srv.server.close(100);
  await new Promise((r) => registry.close(r));
  tmp.cleanup();
});

test.each([
  ['a password sent as Latin-1', `Basic ${Buffer.from('alice:p\xe9', 'latin1').toString('base64')}`],
  ['a name with a space', `Basic ${Buffer.from('alice smith:pw').toString('base64')}`],
  ['credentials that are not base64', 'Basic !!!'],
  ['another scheme', 'Bearer abc'],
])('%s gets the 401 and the Basic challenge, so the browser asks again', async (_what, authorization) => {
  const res = await fetch(`${srv.url}/ui/`, { headers: { authorization } });
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe('Basic realm="registry", charset="UTF-8"');
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const page = await res.text();
  expect(page).toContain('</html>');
  expect(page).toContain('sign in again');
});

test('the right credentials still show the page', async () => {
  const res = await fetch(`${srv.url}/ui/`, {
    headers: { authorization: `Basic ${Buffer.from(`alice:${alicePassword}`).toString('base64')}` },
  });
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('public/a');
});
