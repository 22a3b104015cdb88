import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { closeAfterReply } from '../../src/http/limits.js';
import { tempDir } from '../helpers/fixtures.js';
import { aliceConfig, startTestServer, type TestServer } from '../helpers/server.js';

// docs/security.md "Slow clients and connection floods": a connection is closed at the latest
// after its deadlines; a hung or slow client cannot hold resources without bound.
//
// A token POST refused from its headers (an unknown charset or Content-Encoding: 415) gets its
// reply at once, and the connection is kept alive. bodyReader (src/http/routes.ts) still counted
// what node drained of the body afterwards: a chunked body going on past the limit marked the
// connection as closing after its reply was out. The next request on it was read and dropped
// unanswered (onClosingConnection), and no deadline closed the connection: it held a
// max_connections slot for good. Found by a review.

const tmp = tempDir();
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: aliceConfig('pw', ['headers_timeout: 1', 'request_timeout: 2']),
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

/**
 * Sends a chunked POST to `path` refused from its headers, a body over 64 KiB, then `GET /healthz` on
 * the same connection; resolves with what came back and whether the connection was closed within
 * `waitMs`.
 */
function refusedThenHealthz(
  path: string,
  headers: string,
  waitMs: number,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(srv.url).port), '127.0.0.1');
    let text = '';
    let closed = false;
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => (closed = true));
    socket.once('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}Transfer-Encoding: chunked\r\n\r\n`);
      setTimeout(() => {
        const body = 'a'.repeat(70 * 1024);
        socket.write(`${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
        setTimeout(() => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), 200);
      }, 200);
    });
    setTimeout(() => {
      const result = { text, closed };
      socket.destroy();
      resolve(result);
    }, waitMs);
    socket.once('error', reject);
  });
}

test.each([
  [
    '/auth',
    'an unknown Content-Encoding',
    'Content-Type: application/x-www-form-urlencoded\r\nContent-Encoding: x-unknown\r\n',
  ],
  ['/auth', 'an unknown charset', 'Content-Type: application/x-www-form-urlencoded; charset=bogus\r\n'],
  // The sign-out form is read by the same bodyReader (limit 4 KiB).
  [
    '/ui/signout',
    'an unknown Content-Encoding',
    'Content-Type: application/x-www-form-urlencoded\r\nContent-Encoding: x-unknown\r\n',
  ],
])(
  'POST %s: after a 415 for %s and a chunked body over the limit, the next request is answered or the connection closed within the deadlines',
  async (path, _name, headers) => {
    // headers_timeout 1 s, request_timeout 2 s, checked every second: 7 s is well past any of them.
    const { text, closed } = await refusedThenHealthz(path, headers, 7000);
    expect(text).toMatch(/^HTTP\/1\.1 415 /);
    const answered = /HTTP\/1\.1 200 OK[\s\S]*\{"status":"ok"\}/.test(text);
    expect({ answered, closed }).not.toEqual({ answered: false, closed: false });
  },
  15_000,
);

// The same trap, for any caller: a connection marked closing once its reply's head is out is one
// node no longer closes (it decided at writeHead), so closeAfterReply closes it itself.
test('a connection marked closing after its reply went out is closed, not left holding later requests', async () => {
  const late: Server = createServer((req, res) => {
    res.end('first');
    closeAfterReply(req, res);
  });
  await new Promise<void>((r) => late.listen(0, '127.0.0.1', r));
  try {
    const { port } = late.address() as AddressInfo;
    const closed = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.once('close', () => resolve(true));
      socket.resume(); // reads the reply, and the end of the connection
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      setTimeout(() => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 200);
      setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, 4000);
    });
    expect(closed).toBe(true);
  } finally {
    late.closeAllConnections();
    await new Promise((r) => late.close(r));
  }
});
