// Found by a review of acdb319: over HTTP/2, a request with a content-length whose body arrives
// in one-byte DATA frames fills HAProxy's buffer (each frame a block with 8 bytes of overhead),
// and once it does, `req.body_size` no longer reports the declared length but what arrived: the
// rule comparing the two saw nothing missing, and the request reached regauth half-sent. The
// declared length is now read from the header itself.
import { expect, test } from 'vitest';
import { dripBody, h2SessionNoDelay, useHalfBodyHaproxy } from './harness/half-body.js';

const peers = useHalfBodyHaproxy({ tmpPrefix: 'haproxy-h2-cl-' });

test('over HTTP/2, a body with content-length whose bytes come in one-byte DATA frames never reaches regauth half-sent', async () => {
  const session = h2SessionNoDelay(peers.tls);
  try {
    // 15,000 bytes at once, then one byte every ~1 ms, each its own DATA frame, within timeout
    // http-request 5s; the stream never ends.
    const { status, frames, ms, reached } = await dripBody(session, peers.standIn, {
      headers: {
        ':method': 'POST',
        ':path': '/auth/token',
        'content-type': 'application/x-www-form-urlencoded',
        // Within regauth's own 64 KiB: regauth waits for the rest of it.
        'content-length': '30000',
      },
      first: 15_000,
      everyMs: 1,
    });
    expect(
      reached.map((r) => `${r.length} bytes reached regauth, ending ${JSON.stringify(r.slice(-12))}`),
      `content-length 30000; 15,000 bytes, then ${frames} one-byte DATA frames in ${ms} ms; ` +
        `HAProxy answered ${status || 'nothing yet'}; these reached regauth with the body unfinished`,
    ).toEqual([]);
    // HAProxy refused it once its buffer was full.
    expect(status, `after ${frames} frames`).toBe(413);
  } finally {
    session.destroy();
  }
}, 30_000);
