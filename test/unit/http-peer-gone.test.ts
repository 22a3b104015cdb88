import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review of the HTTP endpoints: a client that sends its request and resets the connection at once
 * has its password checked (and counted), but the audit line says `client: {ip: null}` and the
 * lockout counts the failure under the shared `-` client, not under the client's address. The
 * handlers read `req.socket.remoteAddress` when they run; by then the kernel has the RST and
 * getpeername() fails, so node reports no address (node caches the peer only once it was read).
 * Nothing reads it when the connection is accepted. An attacker reachable directly (TLS on
 * regauth itself) can so make every guess at an account (and the account_max_failures lock it
 * causes) show in the audit log without an address. The POST route's own comment ("Read now: once
 * a client that hung up mid-body is gone, its socket has no address") shows the intent.
 * Fix: read (and so cache) `socket.remoteAddress` on the server's 'connection' event (or keep it
 * per socket), before any request on it is parsed.
 */
const tmp = tempDir();
const password = randomPassword();
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${hash(password)}"}
catalog:
  registry_url: http://127.0.0.1:9
  realm: http://127.0.0.1/auth
  registry_service: reg
acl: []
`,
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

/** Sends `request` and resets the connection in the same tick. */
function sendAndReset(request: string): Promise<void> {
  const { port } = new URL(srv.url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(request);
      socket.resetAndDestroy();
      resolve();
    });
    socket.on('error', () => undefined);
  });
}

async function auditLinesAfter(send: () => Promise<void>, count: number): Promise<Record<string, unknown>[]> {
  const before = srv.logs.length;
  for (let i = 0; i < count; i++) await send();
  const deadline = Date.now() + 3000;
  let lines: Record<string, unknown>[] = [];
  while (Date.now() < deadline) {
    lines = srv.logs
      .slice(before)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['requestId'] !== undefined && l['outcome'] !== undefined);
    if (lines.length >= count) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return lines;
}

const wrong = `Basic ${Buffer.from('alice:wrong-password').toString('base64')}`;

test('a wrong password on GET /auth from a client that resets at once is audited with its address', async () => {
  const lines = await auditLinesAfter(
    () => sendAndReset(`GET /auth?service=reg HTTP/1.1\r\nHost: x\r\nAuthorization: ${wrong}\r\n\r\n`),
    5,
  );
  expect(lines.length).toBe(5);
  for (const line of lines) {
    expect(line['account']).toBe('alice');
    expect(line['client']).toEqual({ ip: '127.0.0.1', via: null });
  }
});

test('a wrong password on the registry page from a client that resets at once is audited with its address', async () => {
  const lines = await auditLinesAfter(
    () => sendAndReset(`GET /ui/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${wrong}\r\n\r\n`),
    3,
  );
  expect(lines.length).toBe(3);
  for (const line of lines) expect(line['client']).toEqual({ ip: '127.0.0.1', via: null });
});

test('a token POST whose client resets at once is audited with its address', async () => {
  const body = 'grant_type=password&username=alice&password=wrong-password&service=reg';
  const lines = await auditLinesAfter(
    () =>
      sendAndReset(
        `POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      ),
    3,
  );
  expect(lines.length).toBe(3);
  for (const line of lines) expect(line['client']).toEqual({ ip: '127.0.0.1', via: null });
});
