import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
import { hash, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

// A connection refused under its body (400 without Host, 413) ends its side and reads what still
// comes for 2 s (d5b1a9b). It read it through node's HTTP parser: a request that arrived in those
// 2 s was dispatched, its password checked, counted by the lockout and audited, though the reply
// had said `Connection: close` and its own reply could never be delivered (RFC 9112 §9.6: no
// further requests on that connection). Found by a review.
const tmp = tempDir();
let server: RunningServer;
let logs: string[];
beforeAll(async () => {
  const started = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `server:\n  addr: "127.0.0.1:0"\ntoken:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\nusers:\n  alice:\n    password: "${hash('pw')}"\nacl: []\n`,
  });
  server = started.server;
  logs = started.logs;
});
afterAll(async () => {
  await server.close(100);
  tmp.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WRONG = `Basic ${Buffer.from('alice:wrong').toString('base64')}`;

/** Sends `first`, then `second` on the same connection 300 ms later; resolves with what came back. */
function refusedThenAnother(first: string, second: string): Promise<string> {
  return new Promise((resolve) => {
    // A client that has sent its requests before reading the replies (pipelining) has written
    // the second before it reads the server's FIN: it keeps its side open (allowHalfOpen).
    const s = connect({ port: Number(new URL(server.url).port), host: '127.0.0.1', allowHalfOpen: true });
    let text = '';
    s.on('error', () => undefined);
    s.on('data', (d) => (text += d));
    s.on('close', () => resolve(text));
    s.write(first);
    setTimeout(() => s.write(second), 300);
    setTimeout(() => s.destroy(), 3000);
  });
}

/** The statuses of the token requests audited since `before`. */
function statusesSince(before: number): unknown[] {
  return logs
    .slice(before)
    .map((l) => JSON.parse(l) as { status?: unknown })
    .filter((l) => l.status !== undefined)
    .map((l) => l.status);
}

test('a request sent after the Host-less 400 (Connection: close) is not processed', async () => {
  const before = logs.length;
  const reply = await refusedThenAnother(
    'GET /healthz HTTP/1.1\r\n\r\n',
    `GET /auth?service=reg HTTP/1.1\r\nHost: x\r\nAuthorization: ${WRONG}\r\n\r\n`,
  );
  await sleep(300);
  expect(reply).toMatch(/^HTTP\/1\.1 400 [^]*\r\nConnection: close\r\n/i);
  expect(reply.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 400']);
  // The password guess behind it was not checked, audited or counted.
  expect(statusesSince(before)).toEqual([]);
});

test('a request sent after a chunked body refused with 413 is not processed', async () => {
  const before = logs.length;
  const chunk = `${(70_000).toString(16)}\r\n${'a'.repeat(70_000)}\r\n`;
  const reply = await refusedThenAnother(
    'POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
      `Transfer-Encoding: chunked\r\n\r\n${chunk}`,
    `0\r\n\r\nGET /auth?service=reg HTTP/1.1\r\nHost: x\r\nAuthorization: ${WRONG}\r\n\r\n`,
  );
  await sleep(300);
  expect(reply.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 413']);
  expect(statusesSince(before)).toEqual([413]);
});
