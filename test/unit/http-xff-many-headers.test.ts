import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// docs/http-api.md "Client address and trusted proxies": from a trusted proxy, X-Forwarded-For is
// read from the right, and the proxy is never taken for the client.
//
// node kept only the first 1000 header lines of a request and dropped the rest silently. A client
// sending about a thousand tiny header lines (7 KB, far under the 16 KiB limit) through a proxy
// that appends its X-Forwarded-For after the client's headers (Go's reverse proxies write them
// sorted by name) made that header vanish: regauth saw a trusted peer with no X-Forwarded-For
// and took the proxy for the client, its `ip:` rules included. Found by a review.

const PROXY = '127.0.0.2';
const tmp = tempDir();
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      [
        'server:',
        '  addr: "127.0.0.1:0"',
        `  trusted_proxies: ["${PROXY}"]`,
        'token:',
        '  issuer: t',
        `  key: ${keyPath}`,
        `  certificate: ${certPath}`,
        'users:',
        '  "": {}',
        'acl:',
        // The proxy's own address (an internal network, say) may push; everyone else may pull.
        `  - {match: {ip: "${PROXY}/32"}, actions: ["*"]}`,
        '  - {match: {}, actions: [pull]}',
        '',
      ].join('\n'),
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

/** One request sent from the proxy's address; resolves with the status line's code. */
function fromProxy(text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(new URL(srv.url).port), host: '127.0.0.1', localAddress: PROXY });
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(out.split(' ')[1])));
    socket.write(text);
  });
}

test('a request whose X-Forwarded-For comes after 1000 other header lines is not answered as if from the proxy', async () => {
  // What a proxy forwards: the client's 1000 empty `A…` headers, then the X-Forwarded-For it adds.
  const junk = Array.from({ length: 1000 }, (_, i) => `a${i % 10}:\r\n`).join('');
  expect(junk.length).toBeLessThan(8 * 1024);
  const before = srv.logs.length;
  const status = await fromProxy(
    'GET /auth?service=registry&scope=repository:team/app:push HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
      `${junk}X-Forwarded-For: 203.0.113.9\r\n\r\n`,
  );
  const audit = srv.logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
  const line = audit.find((l) => l['method'] === 'GET');
  if (status >= 400 && status < 500) return; // refused (431/400): the proxy was not taken for the client
  expect(status).toBe(200);
  // The client is 203.0.113.9, and the rule for the proxy's address must not match it.
  expect(line?.['client']).toEqual({ ip: '203.0.113.9', via: PROXY });
  expect(line?.['granted']).not.toContain('repository:team/app:push');
});
