// Found by a review of acdb319: over HTTP/2, a request with a content-length whose body arrives
// in one-byte DATA frames fills HAProxy's buffer (each frame a block with 8 bytes of overhead),
// and once it does, `req.body_size` no longer reports the declared length but what arrived: the
// rule comparing the two saw nothing missing, and the request reached regauth half-sent. The
// declared length is now read from the header itself.
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
const dir = mkdtempSync(join(tmpdir(), 'haproxy-h2-cl-'));

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
test('over HTTP/2, a body with content-length whose bytes come in one-byte DATA frames never reaches regauth half-sent', async () => {
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
      {
        ':method': 'POST',
        ':path': '/auth/token',
        'content-type': 'application/x-www-form-urlencoded',
        // Within regauth's own 64 KiB: regauth waits for the rest of it.
        'content-length': '30000',
      },
      { endStream: false },
    );
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('error', () => undefined);
    stream.resume();
    stream.write('b'.repeat(15_000));
    await new Promise((r) => setTimeout(r, 50));
    // Then one byte every ~1 ms, each its own DATA frame, within timeout http-request 5s; the
    // stream never ends.
    let frames = 0;
    const start = Date.now();
    while (Date.now() - start < 4500 && status === 0 && halfSent().length === before) {
      stream.write('b');
      frames++;
      await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise((r) => setTimeout(r, 300));
    const reached = halfSent().slice(before);
    expect(
      reached.map((r) => `${r.length} bytes reached regauth, ending ${JSON.stringify(r.slice(-12))}`),
      `content-length 30000; 15,000 bytes, then ${frames} one-byte DATA frames in ${Date.now() - start} ms; ` +
        `HAProxy answered ${status || 'nothing yet'}; these reached regauth with the body unfinished`,
    ).toEqual([]);
    // HAProxy refused it once its buffer was full.
    expect(status, `after ${frames} frames`).toBe(413);
  } finally {
    session.destroy();
  }
}, 30_000);
