/**
 * Found by a review of 6a7b3ed: while a reply is being written at shutdown, close() holds back closeIdleConnections
 * and calls it once that reply is written (src/http/server.ts, `written` → setImmediate(closeIdle)).
 * Meanwhile an idle keep-alive connection may send a request, which is answered (Connection:
 * close). If that reply is itself still being written (ended, body queued behind a slow reader)
 * when the first one finishes, the delayed closeIdleConnections counts its connection idle (node
 * checks `_httpMessage.finished`) and destroys it: the reply is cut off mid-body, the very gap the
 * commit closed for replies in flight when close() began.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, expect, test } from 'vitest';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { aliceConfig, startTestServer } from '../helpers/server.js';
import { sleep, until } from '../helpers/wait.js';

const tmp = tempDir('regauth-shutdown-later-reply-');
afterAll(() => tmp.cleanup());

const BIG = 32 << 20;

function reader(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  const state = { bytes: 0, head: '', closed: false, socket };
  socket.on('data', (d: Buffer) => {
    if (!state.head.includes('\r\n\r\n')) {
      state.head += d.subarray(0, 4096).toString('latin1');
      if (state.head.includes('\r\n\r\n')) socket.pause();
    }
    state.bytes += d.length;
  });
  socket.on('close', () => (state.closed = true));
  socket.on('error', () => undefined);
  return state;
}

test('a reply made on a kept-alive connection during the shutdown is written whole', async () => {
  const big = `# ${'x'.repeat(BIG)}\n`;
  const metrics = { registry: { metrics: async () => big, contentType: 'text/plain; version=0.0.4' } };
  const t = await startTestServer({
    dir: tmp.dir,
    config: aliceConfig(randomPassword(), ['headers_timeout: 8s']),
    server: { metrics } as never,
  });
  const port = Number(new URL(t.url).port);
  const a = reader(port);
  const b = reader(port);
  try {
    await until(() => a.socket.readyState === 'open' && b.socket.readyState === 'open', 5_000);
    a.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => a.head.includes('\r\n\r\n'), 5_000);
    await sleep(200);
    const closing = t.server.close(20_000);
    // b, idle and kept open while a's reply is written, asks now: answered, Connection: close.
    b.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => b.head.includes('\r\n\r\n'), 5_000);
    await sleep(300);
    expect(b.head.toLowerCase()).toContain('connection: close');
    // a reads the rest of its reply; b is still reading slowly.
    a.socket.resume();
    await until(() => a.bytes >= BIG || a.closed, 15_000);
    await sleep(500);
    b.socket.resume();
    await until(() => b.bytes >= BIG || b.closed, 15_000);
    await sleep(200);
    expect({ aWhole: a.bytes >= BIG, bWhole: b.bytes >= BIG }).toEqual({ aWhole: true, bWhole: true });
    await closing;
  } finally {
    a.socket.destroy();
    b.socket.destroy();
    await t.server.close(100).catch(() => undefined);
  }
}, 60_000);
