import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
import { tempDir } from '../helpers/fixtures.js';
import { aliceConfig, startTestServer } from '../helpers/server.js';

// An error in the body of the request being read (too slow, chunk extensions over node's limit,
// a chunk that does not parse) gets its own reply, as docs/http-api.md lists them: 92b99ed closed
// such a connection without one, taking node's reply object for another request's. And a request
// answered before its body had all arrived (a GET with a body it does not read) got a second reply
// when that body then timed out or turned malformed: node detaches the finished reply and reads
// on, and the raw 408 or 400 went out after it, taken by a keep-alive client as the reply to its
// next request. Both found by reviews.
const tmp = tempDir();
let server: RunningServer;
beforeAll(async () => {
  const started = await startTestServer({
    dir: tmp.dir,
    config: aliceConfig('pw', ['headers_timeout: 1', 'request_timeout: 1']),
  });
  server = started.server;
});
afterAll(async () => {
  await server.close(100);
  tmp.cleanup();
});

/** Writes `head`, then each of `later` 300 ms apart; resolves with every status line received. */
function exchange(head: string, later: string[] = []): Promise<string[]> {
  return new Promise((resolve) => {
    const s = connect(Number(new URL(server.url).port), '127.0.0.1');
    let text = '';
    s.on('error', () => undefined);
    s.on('data', (d) => (text += d));
    s.on('close', () => resolve(text.match(/HTTP\/1\.1 \d{3}/g) ?? []));
    s.write(head);
    later.forEach((piece, i) => setTimeout(() => s.writable && s.write(piece), 300 * (i + 1)));
    setTimeout(() => s.destroy(), 5000);
  });
}

const POST = 'POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n';

test('a token form sent a byte at a time gets the 408 at request_timeout', async () => {
  const body = 'grant_type=password&username=alice&password=pw';
  expect(await exchange(`${POST}Content-Length: ${body.length}\r\n\r\n`, [...body])).toEqual([
    'HTTP/1.1 408',
  ]);
}, 10_000);

test("chunk extensions over node's limit get the 413", async () => {
  expect(await exchange(`${POST}Transfer-Encoding: chunked\r\n\r\n1;${'a'.repeat(20_000)}\r\n`)).toEqual([
    'HTTP/1.1 413',
  ]);
});

test('a chunked body that does not parse gets the 400', async () => {
  expect(await exchange(`${POST}Transfer-Encoding: chunked\r\n\r\nzz\r\n`)).toEqual(['HTTP/1.1 400']);
});

test('a GET answered before its body finished gets one reply, not a second 408', async () => {
  expect(await exchange('GET /auth HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n', ['a'])).toEqual([
    'HTTP/1.1 401',
  ]);
}, 10_000);

test('a GET answered before its chunked body turned malformed gets one reply, not a second 400', async () => {
  expect(
    await exchange('GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', [
      '1\r\na\r\n',
      'zz\r\n',
    ]),
  ).toEqual(['HTTP/1.1 200']);
}, 10_000);
