/**
 * Found by a review of e126815. A request finished during the shutdown whose target is in neither origin nor absolute form
 * (`GET * HTTP/1.1`) is answered by readableTargetsOnly's 404 before the listener that marks
 * replies made while closing (src/http/server.ts `if (closing) closeAtShutdown(res)` sat inside
 * the wrapped listener, and src/http/dispatch.ts returns before it): the reply said keep-alive, the connection stays open after close()'s one closeIdleConnections, and close()
 * waits for the keep-alive timeout / grace; meanwhile a further request on it is answered.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, expect, test } from 'vitest';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { aliceConfig, startTestServer } from '../helpers/server.js';
import { sleep, until } from '../helpers/wait.js';

const tmp = tempDir('regauth-shutdown-target-');
afterAll(() => tmp.cleanup());

test('a reply to an unreadable target made during the shutdown closes its connection', async () => {
  const t = await startTestServer({ dir: tmp.dir, config: aliceConfig(randomPassword()) });
  const port = Number(new URL(t.url).port);
  const socket: Socket = connect(port, '127.0.0.1');
  let got = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  try {
    await until(() => socket.readyState === 'open', 5_000);
    // A request begun (not idle) when the shutdown starts, finished after it.
    socket.write('GET * HTTP/1.1\r\n');
    await sleep(200);
    const started = Date.now();
    const closing = t.server.close(20_000);
    await sleep(100);
    socket.write('Host: x\r\n\r\n');
    await until(() => got.includes('\r\n\r\n'), 5_000);
    await sleep(300);
    const head = got.slice(0, got.indexOf('\r\n\r\n')).toLowerCase();
    expect(head).toMatch(/^http\/1\.1 404/);
    expect({ connectionClose: head.includes('connection: close'), closed }).toEqual({
      connectionClose: true,
      closed: true,
    });
    await closing;
    expect(Date.now() - started).toBeLessThan(2_000);
  } finally {
    socket.destroy();
    await t.server.close(100).catch(() => undefined);
  }
}, 60_000);
