// Found by a review of e37362f: over HTTP/2, each DATA frame HAProxy reads becomes a block of its
// own in the request buffer, with 8 bytes of overhead the byte count of backend regauth's rule did
// not see. A body just under the limit followed by many one-byte frames filled the 32 KiB buffer
// while the count stayed under 24 KiB, and the request reached regauth unfinished. A body without
// a length now counts nine bytes for each byte (a block's overhead at worst).
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { REPO_ROOT, startHaproxy, type Haproxy } from './harness/deploy.js';
import { freePort } from './harness/ports.js';
import { haproxyTlsPem, startHalfBodyStandIn, type HalfBodyStandIn } from './harness/half-body.js';

let standIn: HalfBodyStandIn;
let tlsHaproxy: Haproxy;
const dir = mkdtempSync(join(tmpdir(), 'haproxy-h2-blocks-'));

beforeAll(async () => {
  standIn = await startHalfBodyStandIn();
  const env = { REGISTRY_ADDR: `127.0.0.1:${await freePort()}`, REGAUTH_ADDR: standIn.addr };
  const configPath = join(REPO_ROOT, 'examples/haproxy.cfg');
  tlsHaproxy = await startHaproxy({ configPath, tlsCert: await haproxyTlsPem(dir), env });
  await new Promise((r) => setTimeout(r, 1500));
}, 60_000);

afterAll(async () => {
  await tlsHaproxy?.stop();
  await standIn?.close();
  rmSync(dir, { recursive: true, force: true });
});

const halfSent = () => standIn.halfSent();
test('over HTTP/2, a body under the limit whose last bytes come in many small DATA frames never reaches regauth half-sent', async () => {
  const before = halfSent().length;
  const session = h2connect(tlsHaproxy.url, {
    createConnection: () => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port: tlsHaproxy.port,
        ALPNProtocols: ['h2'],
        rejectUnauthorized: false,
      });
      s.setNoDelay(true);
      return s;
    },
  });
  session.on('error', () => undefined);
  try {
    const stream = session.request(
      { ':method': 'POST', ':path': '/auth/token', 'content-type': 'application/x-www-form-urlencoded' },
      { endStream: false },
    );
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('error', () => undefined);
    stream.resume();
    // 22,000 bytes at once: with the header and target, still below backend regauth's 24576.
    stream.write('b'.repeat(22_000));
    await new Promise((r) => setTimeout(r, 50));
    // Then one byte every 2 ms, each its own DATA frame and TCP segment, for up to 4.5 s (within
    // timeout http-request 5s); the stream never ends.
    let frames = 0;
    const start = Date.now();
    while (Date.now() - start < 4500 && status === 0 && halfSent().length === before) {
      stream.write('b');
      frames++;
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 300));
    const reached = halfSent().slice(before);
    expect(
      reached.map((r) => `${r.length} bytes reached regauth, ending ${JSON.stringify(r.slice(-12))}`),
      `22,000 bytes, then ${frames} one-byte DATA frames in ${Date.now() - start} ms ` +
        `(body ${22_000 + frames} bytes); HAProxy answered ${status || 'nothing yet'}; ` +
        'these reached regauth with the body unfinished',
    ).toEqual([]);
  } finally {
    session.destroy();
  }
}, 30_000);
