import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Found by a review of the HTTP surface. docs/http-api.md: "Another scheme, or Basic credentials that do not decode ..., get 400", and a
// parameter read twice is a 400; src/request/basic.ts: "a client that sends a header it cannot have
// meant for us gets told, rather than silently anonymous". Authorization is a singleton field
// (RFC 9110 §5.3: not a list, so never sent twice), but node keeps the first of several
// Authorization lines and silently drops the rest (IncomingMessage headers), and regauth reads
// only `req.headers.authorization`: with two lines, which credentials count depends on their
// order, an empty first line makes a request carrying Basic credentials anonymous, and a proxy or
// log that reads the last line sees another user than the one regauth issued a token for.

const tmp = tempDir();
const password = randomPassword();
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${hash(password)}"}
  "": {}
acl: [{match: {}, actions: [pull]}]
`,
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

/** One request on a connection of its own; the status and body of the reply. */
function raw(text: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(s.url).port), '127.0.0.1');
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () =>
      resolve({ status: Number(out.split(' ')[1]), body: out.slice(out.indexOf('\r\n\r\n') + 4) }),
    );
    socket.write(text);
  });
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const request = (...authorization: string[]) =>
  raw(
    `GET /auth?service=reg&scope=repository:a:pull HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${authorization
      .map((a) => `Authorization: ${a}\r\n`)
      .join('')}\r\n`,
  );

test.each([
  ['two Basic credentials', [`Basic ${b64(`alice:${password}`)}`, `Basic ${b64('mallory:x')}`]],
  ['an empty line before Basic credentials', ['', `Basic ${b64(`alice:${password}`)}`]],
  ['Basic credentials, then another scheme', [`Basic ${b64(`alice:${password}`)}`, 'Bearer abc']],
])('%s: 400, not a token for whichever line node kept', async (_name, lines) => {
  const res = await request(...lines);
  // Today: 200, a token for alice (the first line) or an anonymous one (the empty first line).
  expect(res.status).toBe(400);
  expect(JSON.parse(res.body)).toMatchObject({ errors: [{ code: 'BAD_REQUEST' }] });
});

test('two Host lines: 400 (RFC 9112 §3.2), whatever the path', async () => {
  const res = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\nConnection: close\r\n\r\n');
  expect(res.status).toBe(400);
  expect(JSON.parse(res.body)).toMatchObject({ errors: [{ code: 'BAD_REQUEST' }] });
});

test('one Authorization line and one Host line: answered as before', async () => {
  const res = await request(`Basic ${b64(`alice:${password}`)}`);
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body)).toHaveProperty('token');
});

test('two Authorization lines written in different cases: 400 too', async () => {
  const res = await raw(
    `GET /auth?service=reg HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAUTHORIZATION: Basic ${b64(`alice:${password}`)}\r\nauthorization: Basic ${b64('mallory:x')}\r\n\r\n`,
  );
  expect(res.status).toBe(400);
});
