// Found by a review of e37362f: over HTTP/2, each DATA frame HAProxy reads becomes a block of its
// own in the request buffer, with 8 bytes of overhead the byte count of backend regauth's rule did
// not see. A body just under the limit followed by many one-byte frames filled the 32 KiB buffer
// while the count stayed under 24 KiB, and the request reached regauth unfinished. A body without
// a length now counts nine bytes for each byte (a block's overhead at worst).
import { expect, test } from 'vitest';
import { dripBody, h2SessionNoDelay, useHalfBodyHaproxy } from './harness/half-body.js';

const peers = useHalfBodyHaproxy({ tmpPrefix: 'haproxy-h2-blocks-' });

test('over HTTP/2, a body under the limit whose last bytes come in many small DATA frames never reaches regauth half-sent', async () => {
  const session = h2SessionNoDelay(peers.tls);
  try {
    // 22,000 bytes at once: with the header and target, still below backend regauth's 24576.
    // Then one byte every 2 ms, each its own DATA frame and TCP segment, for up to 4.5 s (within
    // timeout http-request 5s); the stream never ends.
    const { status, frames, ms, reached } = await dripBody(session, peers.standIn, {
      headers: {
        ':method': 'POST',
        ':path': '/auth/token',
        'content-type': 'application/x-www-form-urlencoded',
      },
      first: 22_000,
      everyMs: 2,
    });
    expect(
      reached.map((r) => `${r.length} bytes reached regauth, ending ${JSON.stringify(r.slice(-12))}`),
      `22,000 bytes, then ${frames} one-byte DATA frames in ${ms} ms ` +
        `(body ${22_000 + frames} bytes); HAProxy answered ${status || 'nothing yet'}; ` +
        'these reached regauth with the body unfinished',
    ).toEqual([]);
  } finally {
    session.destroy();
  }
}, 30_000);
