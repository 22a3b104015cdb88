/**
 * Found by a review of 95073af ("serve: replies after a shutdown began close their connection"): a reply
 * being written when the shutdown begins (its head out, its body still queued behind a client
 * that reads it slower than it is made: a large /metrics, a catalog or UI page over a slow link).
 * docs/operations.md: SIGTERM "lets requests in flight finish for up to 10 s".
 *
 * close() skips such a reply (src/http/server.ts:91, `!reply.headersSent`) and then calls
 * server.closeIdleConnections() (src/http/server.ts:100). node counts a connection whose request
 * was read and whose reply was end()ed as idle (it checks `_httpMessage.finished`, which end()
 * sets, not whether the reply was written out), and destroys it: the reply is cut off at once,
 * mid-body, though the grace has barely begun. Were it not cut off, its head said keep-alive and
 * nothing would close its connection after it: close() would wait for the keep-alive timeout.
 */
import { connect } from 'node:net';
import { afterAll, expect, test } from 'vitest';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { aliceConfig, startTestServer } from '../helpers/server.js';
import { sleep, until } from '../helpers/wait.js';

const tmp = tempDir('regauth-shutdown-writing-');
afterAll(() => tmp.cleanup());

/** Far more than the loopback socket buffers hold, so the reply waits for its reader. */
const BIG = 32 << 20;

test('a reply still being written when close() began is written whole, then its connection closes without waiting for the keep-alive timeout', async () => {
  const big = `# ${'x'.repeat(BIG)}\n`;
  const metrics = { registry: { metrics: async () => big, contentType: 'text/plain; version=0.0.4' } };
  const t = await startTestServer({
    dir: tmp.dir,
    config: aliceConfig(randomPassword(), ['headers_timeout: 4s']),
    server: { metrics } as never,
  });
  const { port } = new URL(t.url);
  const socket = connect(Number(port), '127.0.0.1');
  let bytes = 0;
  let head = '';
  let closed = false;
  socket.on('data', (d: Buffer) => {
    if (!head.includes('\r\n\r\n')) {
      head += d.subarray(0, 4096).toString('latin1');
      // The client reads the head, then stops reading for a while: the reply is being written.
      if (head.includes('\r\n\r\n')) socket.pause();
    }
    bytes += d.length;
  });
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  try {
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => head.includes('\r\n\r\n'), 5_000);
    await sleep(300);
    const readBeforeClose = bytes;
    expect(head.toLowerCase()).toContain('connection: keep-alive');
    // SIGTERM now, with a grace long enough for the client to read the rest.
    let closedAt: number | undefined;
    const closing = t.server.close(20_000).then(() => (closedAt = Date.now()));
    socket.resume();
    const readAll = await until(() => bytes >= BIG || closed, 15_000).then(() => bytes >= BIG);
    const readAt = Date.now();
    await until(() => closed && closedAt !== undefined, 3_000);
    expect({
      // The reply was still being written when the shutdown began...
      stillBeingWrittenAtClose: readBeforeClose < BIG / 2,
      // ...its client reads all of it (before the fix: cut off at once, a few MB in)...
      readWholeReply: readAll,
      // ...and then its connection, so the shutdown, ends without waiting for the keep-alive
      // timeout (headers_timeout: 4 s here).
      connectionClosedWithin2s: closed && Date.now() - readAt < 2_000,
      closeResolvedWithin2s: closedAt !== undefined && closedAt - readAt < 2_000,
    }).toEqual({
      stillBeingWrittenAtClose: true,
      readWholeReply: true,
      connectionClosedWithin2s: true,
      closeResolvedWithin2s: true,
    });
    await closing;
  } finally {
    socket.destroy();
    await t.server.close(100).catch(() => undefined);
  }
}, 45_000);
