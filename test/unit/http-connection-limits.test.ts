import { execFile } from 'node:child_process';
import { request } from 'node:https';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMetricsServer } from '../../src/http/metrics.js';
import { createMetrics } from '../../src/pipeline/metrics.js';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Found by the review of the HTTP layer: what holds a connection, and what a client that breaks
// the protocol gets back, on the token listener and the metrics listener.

const tmp = tempDir('regauth-connection-limits-');
let srv: TestServer;
/** The same limits on a TLS listener (the server's key and certificate are the token's). */
let tlsSrv: TestServer;
let metrics: Awaited<ReturnType<typeof startMetricsServer>>;
let port: number;

/** Three connections at most, deadlines of 1 and 2 s; with `tls`, served over TLS. */
const limitsConfig =
  (tls: boolean) =>
  ({ keyPath, certPath }: { keyPath: string; certPath: string }): string =>
    [
      'server:',
      ...(tls ? [`  certificate: ${certPath}`, `  key: ${keyPath}`] : []),
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
    ].join('\n');

beforeAll(async () => {
  srv = await startTestServer({ dir: tmp.dir, config: limitsConfig(false) });
  tlsSrv = await startTestServer({ dir: tmp.dir, file: 'tls.yml', config: limitsConfig(true) });
  port = Number(new URL(srv.url).port);
  metrics = await startMetricsServer(
    createMetrics(),
    { host: '127.0.0.1', port: 0 },
    { maxConnections: 10, headersTimeoutMs: 5000, requestTimeoutMs: 10_000 },
  );
});
afterAll(async () => {
  await srv.server.close(100);
  await tlsSrv.server.close(100);
  await metrics.close();
  tmp.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const connections = () => new Promise<number>((r) => srv.server.server.getConnections((_e, n) => r(n)));

/** Writes `data` on a new connection and resolves with all it got back once the server closed it. */
function exchange(url: string, data: string): Promise<{ text: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const s = connect(Number(new URL(url).port), '127.0.0.1');
    let text = '';
    s.on('error', () => undefined);
    s.on('data', (d) => (text += d));
    s.on('close', () => resolve({ text, ms: Date.now() - started }));
    s.write(data);
  });
}

describe('a client that stops reading', () => {
  /** Pipelines whole requests, never reading a reply, until the server stops reading them. */
  async function nonReader(): Promise<Socket> {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.pause();
    await new Promise((r) => s.once('connect', r));
    const batch = 'GET /auth HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100);
    for (let i = 0; i < 2000 && s.writableLength === 0 && !s.destroyed; i++) {
      s.write(batch);
      await sleep(5);
    }
    return s;
  }

  test('is cut off once its replies wait past request_timeout, and the slots come back', async () => {
    const held = [await nonReader(), await nonReader(), await nonReader()];
    try {
      // request_timeout is 2 s; checked every second, on a loaded machine later still.
      let open = await connections();
      for (const end = Date.now() + 15_000; open > 0 && Date.now() < end; open = await connections()) {
        await sleep(100);
      }
      expect(open).toBe(0);
      const probe = await fetch(`${srv.url}/healthz`, { signal: AbortSignal.timeout(5000) });
      expect(probe.status).toBe(200);
    } finally {
      for (const s of held) s.destroy();
    }
  }, 30_000);
});

describe('HTTP/1.1 without a Host header', () => {
  test.each(['token', 'metrics'])('gets a JSON 400 on the %s listener', async (which) => {
    const url = which === 'token' ? srv.url : metrics.url;
    const path = which === 'token' ? '/auth' : '/metrics';
    // A second, valid request pipelined behind it: the connection is closed, so it is not answered.
    const { text } = await exchange(
      url,
      `GET ${path} HTTP/1.1\r\n\r\nGET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toMatch(/\r\ncontent-type: application\/json/i);
    expect(text).toMatch(/\r\ncache-control: no-store/i);
    expect(text).toContain('"BAD_REQUEST"');
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 400']);
  });
});

// Found by a review of the JSON 400: node sends `100 Continue` before any listener runs, so a
// client was told to send a body that was then thrown away with the connection.
test('HTTP/1.1 without Host and with Expect: 100-continue gets the 400 and no 100 Continue', async () => {
  const { text } = await exchange(
    srv.url,
    'POST /auth HTTP/1.1\r\nExpect: 100-continue\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\n',
  );
  expect(text).toMatch(/^HTTP\/1\.1 400 /);
  // With Host, the 100 Continue still comes, then the answer to the body.
  const withHost = await exchange(
    srv.url,
    'POST /auth HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b',
  );
  expect(withHost.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 \d{3} /);
});

// A client still sending the body of a request refused without Host lost the 400 to the reset
// that answers bytes arriving on a closed connection; the connection now lingers a moment.
// Found by a review.
test('HTTP/1.1 without Host and a large body on its way still gets its 400', async () => {
  // The client runs in a process of its own, as it would (in this one it shares the server's
  // event loop, which reads its bytes as fast as it writes them).
  const client = `
    import { connect } from 'node:net';
    const outcomes = [];
    for (let i = 0; i < 20; i++) {
      outcomes.push(await new Promise((resolve) => {
        const s = connect(Number(process.argv[1]), '127.0.0.1');
        let text = '';
        s.on('data', (d) => (text += d));
        s.on('error', (err) => resolve(text.slice(0, 12) || err.code));
        s.on('close', () => resolve(text.slice(0, 12)));
        s.write('POST /auth HTTP/1.1\\r\\nContent-Type: application/x-www-form-urlencoded\\r\\n' +
          'Content-Length: 20000000\\r\\n\\r\\n');
        s.write(Buffer.alloc(20_000_000, 0x61), () => undefined);
      }));
    }
    console.log(JSON.stringify(outcomes));`;
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--input-type=module',
    '-e',
    client,
    String(port),
  ]);
  expect((JSON.parse(stdout) as string[]).filter((o) => o !== 'HTTP/1.1 400')).toEqual([]);
}, 60_000);

// Found by a review: a request asking to upgrade the connection (WebSocket, h2c) got its reply
// with `Connection: keep-alive`, but node's parser drops what follows such a request in the same
// read, so a request pipelined behind it was never answered and the connection hung until the
// keep-alive deadline. regauth upgrades nothing: such a reply now ends the connection.
test('a request asking for an upgrade: its reply closes the connection, nothing behind it waits', async () => {
  const upgrade = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
  const { text, ms } = await exchange(srv.url, upgrade + 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200']);
  expect(text).toMatch(/\r\nConnection: close\r\n/i);
  expect(ms).toBeLessThan(500);
});

// Found by a review: docs/security.md said a header must arrive within headers_timeout "from when
// the connection opens". node counts it from the request's first byte: a connection that sends
// nothing is closed after headers_timeout, but one that sends its first byte just before then
// and trickles the rest holds its slot for up to twice as long. The docs now say so; this holds
// regauth to that bound (headers_timeout is 1 s here, checked every second).
test('a header trickled after an idle start is cut off within twice headers_timeout (plus the check)', async () => {
  const started = Date.now();
  const closed = await new Promise<number>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    const header = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(100);
    let i = 0;
    let trickle: NodeJS.Timeout | undefined;
    // Nothing for 0.9 s, then a byte every 100 ms.
    setTimeout(() => {
      trickle = setInterval(() => {
        if (!s.destroyed && i < header.length) s.write(header[i++]!);
      }, 100);
    }, 900);
    s.on('close', () => {
      clearInterval(trickle);
      resolve(Date.now() - started);
    });
  });
  expect(closed).toBeLessThan(2 * 1000 + 2500);
});

describe('an idle keep-alive connection', () => {
  test('is closed within headers_timeout of its last request (plus the check)', async () => {
    const { ms } = await exchange(srv.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    // headers_timeout is 1 s; node's keep-alive default would hold it 5 s.
    expect(ms).toBeLessThan(3500);
  });
});

// docs/security.md "Slow clients and connection floods": "a connection that sends nothing is
// closed after this time too" and, while a flood holds every slot, "the held ones last at most
// twice headers_timeout (plus a second or two for the checks), then the probe answers again".
// "These hold for each listener", TLS included. Over TLS
// they did not: the handshake's own timeout (node's default, 120 s) went to the 'clientError'
// listener, whose HTTP reply could not be written where no TLS session was set up, and the
// connection stayed open for good. Found by a review.
/** GET /healthz over TLS (the test certificate is self-signed): its status, or why it failed. */
function healthz(): Promise<string> {
  return new Promise((resolve) => {
    const req = request(`${tlsSrv.url}/healthz`, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.statusCode)));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
}

test('over TLS, connections that send nothing are closed after headers_timeout, and /healthz answers again', async () => {
  expect(tlsSrv.url).toMatch(/^https:/);
  expect(await healthz()).toBe('200');
  const tlsPort = Number(new URL(tlsSrv.url).port);
  const held: Socket[] = [];
  const ended = new Set<Socket>();
  for (let i = 0; i < 3; i++) {
    const s = connect(tlsPort, '127.0.0.1');
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
