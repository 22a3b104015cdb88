import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review of 8c6807b (http: read a peer's address as its connection is accepted), with TLS on
 * regauth itself (server.certificate): the case the fix's own test names ("an attacker reachable
 * directly (TLS on regauth itself)"). src/http/limits.ts notePeer reads `remoteAddress` on
 * 'connection' (the raw TCP socket, which node caches) and on 'secureConnection' (the TLSSocket,
 * a different object with its own cache). A handler reads `req.socket.remoteAddress` of the
 * TLSSocket; when the client sends its Finished, its request and an RST together, the handshake
 * completes after the kernel has the reset, so the read on 'secureConnection' already fails and
 * the handler sees no address: the guess is audited `ip: null` and counted under the shared `-`
 * client, as before the fix. Fix: carry the address read on 'connection' over to the TLSSocket
 * (e.g. a WeakMap from the TLS socket's parent, or read it from the raw socket in the handler).
 */
const tmp = tempDir('regauth-peer-gone-tls-');
const password = randomPassword();
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({
      keyPath,
      certPath,
    }) => `server: {addr: "127.0.0.1:0", key: ${keyPath}, certificate: ${certPath}}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${hash(password)}"}
acl: []
`,
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

/** Completes the TLS handshake, sends `request` and resets the TCP connection at once. */
function sendAndReset(request: string): Promise<void> {
  const { port } = new URL(srv.url);
  return new Promise((resolve) => {
    const raw = tcpConnect(Number(port), '127.0.0.1', () => {
      const socket = tlsConnect({ socket: raw, rejectUnauthorized: false }, () => {
        socket.write(request);
        setImmediate(() => {
          raw.resetAndDestroy();
          resolve();
        });
      });
      socket.on('error', () => undefined);
    });
    raw.on('error', () => undefined);
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

test('precondition: the server serves TLS', () => {
  expect(srv.url).toMatch(/^https:/);
});

test('over TLS, a wrong password from a client that resets at once is audited with its address', async () => {
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
