import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startMetricsServer } from '../../src/http/metrics.js';
import { createMetrics } from '../../src/pipeline/metrics.js';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Request targets Express cannot read, and pages of a section not configured: each gets the JSON
// 404 of an unknown path (docs/http-api.md: errors are JSON, never HTML). Found by a review.

const NOT_FOUND = { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] };
const LIMITS = { maxConnections: 512, headersTimeoutMs: 5000, requestTimeoutMs: 10_000 };

const tmp = tempDir();
let srv: TestServer;
let metrics: Awaited<ReturnType<typeof startMetricsServer>>;
beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nusers: {'': {}}\nacl: [{match: {}, actions: [pull]}]\n`,
  });
  metrics = await startMetricsServer(createMetrics(), { host: '127.0.0.1', port: 0 }, LIMITS);
});
afterAll(async () => {
  await srv.server.close(100);
  await metrics.close();
  tmp.cleanup();
});

/** Sends `text` on a connection of its own; the status, content type and body of the reply. */
function raw(url: string, text: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const end = out.indexOf('\r\n\r\n');
      resolve({
        status: Number(out.split(' ')[1]),
        type: /\r\ncontent-type: ([^\r]*)/i.exec(out.slice(0, end))?.[1] ?? '',
        body: out.slice(end + 4),
      });
    });
    socket.write(text);
  });
}

test.each([
  ['GET', 'http://[::1/auth'],
  ['POST', 'http://[/auth'],
  ['DELETE', 'http://[::1/x'],
])('%s %s (an absolute URL whose host does not parse): JSON 404', async (method, target) => {
  // Express' router saw no path in it, skipped every handler and wrote its HTML page.
  const reply = await raw(
    srv.url,
    `${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
  );
  expect(reply.status).toBe(404);
  expect(reply.type).toMatch(/^application\/json/);
  expect(JSON.parse(reply.body)).toEqual(NOT_FOUND);
});

test('the same on the metrics listener', async () => {
  const reply = await raw(
    metrics.url,
    'GET http://[::1/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  expect(reply.status).toBe(404);
  expect(JSON.parse(reply.body)).toEqual(NOT_FOUND);
});

test('an absolute URL that parses is still served (HTTP/1.1 servers must accept the form)', async () => {
  const reply = await raw(srv.url, 'GET http://x/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  expect(reply.status).toBe(200);
});
test('/ui without catalog: is the JSON 404, not a redirect to one', async () => {
  // It answered 301 to /ui/, which answered 404.
  for (const path of ['/ui', '/ui?last=a']) {
    const res = await fetch(`${srv.url}${path}`, { redirect: 'manual' });
    expect(res.status, path).toBe(404);
    expect(await res.json()).toEqual(NOT_FOUND);
  }
});
