// Found by a review of the first fix for stalled bodies (backend regauth in examples/haproxy.cfg):
// its rule for a body without a length counted the header and the body but not the request line.
// A request whose target nearly fills HAProxy's buffer (a long query after /auth/token: `path`
// rules ignore it) left room for about a kilobyte of body; the buffer was then full, the wait of
// http-buffer-request ended, and the request passed on half-sent: over HTTP/2 without
// content-length always, over HTTP/1.1 chunked when the buffer filled at a chunk's end. A stand-in
// regauth records every request that reaches it with its chunked body unfinished.
import { connect as h2connect } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { expect, test } from 'vitest';
import { shippedBufferSize, useHalfBodyHaproxy } from './harness/half-body.js';

/** A query that leaves about a kilobyte of HAProxy's buffer for the body. */
const QUERY = 'a'.repeat(shippedBufferSize() - 2400);

const peers = useHalfBodyHaproxy({ tmpPrefix: 'haproxy-half-body-', plain: true });

const halfSent = () => peers.standIn.halfSent();
test('over HTTP/2, a body without content-length behind a query nearly filling the buffer never reaches regauth half-sent', async () => {
  const before = halfSent().length;
  const session = h2connect(peers.tls.url, { rejectUnauthorized: false });
  session.on('error', () => undefined);
  try {
    const stream = session.request(
      {
        ':method': 'POST',
        ':path': `/auth/token?x=${QUERY}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      { endStream: false },
    );
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('error', () => undefined);
    stream.resume();
    stream.write('b'.repeat(3000)); // and never ends the stream
    await new Promise((r) => setTimeout(r, 2000));
    const reached = halfSent().slice(before);
    expect(
      reached.map((r) => `${r.length} bytes, ending ${JSON.stringify(r.slice(-20))}`),
      `HAProxy answered ${status || 'nothing yet'}; these reached regauth with the body unfinished`,
    ).toEqual([]);
  } finally {
    session.destroy();
  }
}, 30_000);

test('over HTTP/1.1, a chunked body behind a query nearly filling the buffer never reaches regauth half-sent', async () => {
  const before = halfSent().length;
  const target = `/auth/token?x=${QUERY}`;
  const head =
    `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
    'Transfer-Encoding: chunked\r\n\r\n';
  const conns: Socket[] = [];
  try {
    // One-byte chunks, some count of which fills HAProxy's buffer exactly at a chunk's end.
    for (let n = 1050; n <= 1140; n++) {
      const s = connect(peers.plain.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.resume();
      conns.push(s);
      s.write(head + '1\r\nb\r\n'.repeat(n)); // and stalls
    }
    await new Promise((r) => setTimeout(r, 2000));
    const reached = halfSent().slice(before);
    expect(
      reached.map((r) => `${r.length} bytes, ending ${JSON.stringify(r.slice(-20))}`),
      'these reached regauth with the chunked body unfinished',
    ).toEqual([]);
  } finally {
    for (const s of conns) s.destroy();
  }
}, 30_000);
