// Found by a review of acdb319: over HTTP/2, a request with a content-length whose body arrives
// in one-byte DATA frames fills HAProxy's buffer (each frame a block with 8 bytes of overhead),
// and once it does, `req.body_size` no longer reports the declared length but what arrived: the
// rule comparing the two saw nothing missing, and the request reached regauth half-sent. The
// declared length is now read from the header itself.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { selfSignedCert } from './harness/certs.js';
import { REPO_ROOT, startHaproxy, type Haproxy } from './harness/deploy.js';
import { freePort } from './harness/ports.js';

let backend: Server;
let tlsHaproxy: Haproxy;
const dir = mkdtempSync(join(tmpdir(), 'haproxy-h2-cl-'));
const received: string[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  backend = createServer((s) => {
    sockets.push(s);
    const i = received.push('') - 1;
    s.on('error', () => undefined);
    s.on('data', (d) => {
      const text = (received[i] ?? '') + d.toString('latin1');
      received[i] = text;
      if (text.startsWith('GET /healthz'))
        s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    });
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const regauthAddr = `127.0.0.1:${(backend.address() as AddressInfo).port}`;
  const cert = await selfSignedCert(dir, 'localhost', '/CN=localhost');
  const pem = join(dir, 'localhost.pem');
  writeFileSync(pem, readFileSync(cert.certPath, 'utf8') + readFileSync(cert.keyPath, 'utf8'));
  tlsHaproxy = await startHaproxy({
    configPath: join(REPO_ROOT, 'examples/haproxy.cfg'),
    tlsCert: pem,
    env: { REGISTRY_ADDR: `127.0.0.1:${await freePort()}`, REGAUTH_ADDR: regauthAddr },
  });
  await new Promise((r) => setTimeout(r, 1500));
}, 60_000);

afterAll(async () => {
  await tlsHaproxy?.stop();
  for (const s of sockets) s.destroy();
  await new Promise((r) => backend?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** Token requests that reached the stand-in with fewer body bytes than their content-length. */
function halfSent(): string[] {
  return received.filter((r) => {
    if (!r.startsWith('POST /auth/token')) return false;
    const end = r.indexOf('\r\n\r\n');
    const cl = /\r\ncontent-length: *(\d+)/i.exec(r.slice(0, end))?.[1];
    return end >= 0 && cl !== undefined && r.length - end - 4 < Number(cl);
  });
}

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
