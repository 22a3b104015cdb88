import { connect, type Socket } from 'node:net';
import { request } from 'node:https';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// docs/security.md "Slow clients and connection floods": "a connection that sends nothing counts
// too" and, while a flood holds every slot, "the held ones last at most headers_timeout (plus a
// second), then the probe answers again". "These hold for each listener", TLS included. Over TLS
// they did not: the handshake's own timeout (node's default, 120 s) went to the 'clientError'
// listener, whose HTTP reply could not be written where no TLS session was set up, and the
// connection stayed open for good. Found by a review.
const tmp = tempDir('regauth-tls-flood-');
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      [
        'server:',
        `  certificate: ${certPath}`,
        `  key: ${keyPath}`,
        '  max_connections: 3',
        '  headers_timeout: 1',
        '  request_timeout: 2',
        'token:',
        '  issuer: t',
        `  key: ${keyPath}`,
        `  certificate: ${certPath}`,
        'users:',
        '  "": {}',
        'acl: []',
        '',
      ].join('\n'),
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function healthz(): Promise<string> {
  return new Promise((resolve) => {
    const req = request(`${srv.url}/healthz`, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.statusCode)));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
}

test('over TLS, connections that send nothing are closed after headers_timeout, and /healthz answers again', async () => {
  expect(srv.url).toMatch(/^https:/);
  expect(await healthz()).toBe('200');
  const port = Number(new URL(srv.url).port);
  const held: Socket[] = [];
  const ended = new Set<Socket>();
  for (let i = 0; i < 3; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('close', () => ended.add(s));
    s.resume();
    await new Promise((r) => s.once('connect', r));
    held.push(s);
  }
  try {
    // headers_timeout is 1 s: allow it five times over, plus the check.
    await sleep(6000);
    const closed = ended.size;
    const probe = await healthz();
    expect({ closed, probe }).toEqual({ closed: 3, probe: '200' });
  } finally {
    for (const s of held) s.destroy();
  }
}, 20_000);
