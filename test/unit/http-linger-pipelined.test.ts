import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
import { tempDir } from '../helpers/fixtures.js';
import { aliceConfig, startTestServer } from '../helpers/server.js';

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
    config: aliceConfig('pw'),
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

/**
 * Sends `first` on a new connection, then `second` (if given) on it 300 ms later; resolves with
 * what came back once the connection closes (at the latest after 3 s).
 */
function send(first: string, second?: string): Promise<string> {
  return new Promise((resolve) => {
    // A client that has sent its requests before reading the replies (pipelining) has written
    // the second before it reads the server's FIN: it keeps its side open (allowHalfOpen).
    const s = connect({ port: Number(new URL(server.url).port), host: '127.0.0.1', allowHalfOpen: true });
    let text = '';
    s.on('error', () => undefined);
    s.on('data', (d) => (text += d));
    s.on('close', () => resolve(text));
    s.write(first);
    if (second !== undefined) setTimeout(() => s.write(second), 300);
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
  const reply = await send(
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
  const reply = await send(
    'POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
      `Transfer-Encoding: chunked\r\n\r\n${chunk}`,
    `0\r\n\r\nGET /auth?service=reg HTTP/1.1\r\nHost: x\r\nAuthorization: ${WRONG}\r\n\r\n`,
  );
  await sleep(300);
  expect(reply.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 413']);
  expect(statusesSince(before)).toEqual([413]);
});

const RIGHT = `Basic ${Buffer.from('alice:pw').toString('base64')}`;

// A refused request pipelined behind one still being answered: its reply is queued, and the
// connection was neither marked nor given its lingering close (the reply had no socket yet), so
// the guess behind it was processed. Found by a review.
test('a guess behind a Host-less 400 queued behind a pending request is not processed', async () => {
  const before = logs.length;
  const reply = await send(
    `GET /auth?service=reg HTTP/1.1\r\nHost: x\r\nAuthorization: ${RIGHT}\r\n\r\n` +
      'GET /healthz HTTP/1.1\r\n\r\n' +
      `GET /auth?service=reg HTTP/1.1\r\nHost: x\r\nAuthorization: ${WRONG}\r\n\r\n`,
  );
  await sleep(300);
  expect(reply.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
  expect(statusesSince(before)).toEqual([200]);
});

test('a guess behind a chunked 413 queued behind a pending request is not processed', async () => {
  const before = logs.length;
  const chunk = `${(70_000).toString(16)}\r\n${'a'.repeat(70_000)}\r\n`;
  const reply = await send(
    `GET /auth?service=reg HTTP/1.1\r\nHost: x\r\nAuthorization: ${RIGHT}\r\n\r\n` +
      'POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
      `Transfer-Encoding: chunked\r\n\r\n${chunk}0\r\n\r\n` +
      `GET /auth?service=reg HTTP/1.1\r\nHost: x\r\nAuthorization: ${WRONG}\r\n\r\n`,
  );
  await sleep(300);
  expect(reply.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 413']);
  expect(statusesSince(before).sort()).toEqual([200, 413]);
});

test('a 413 queued behind a pending request reaches a client sending a 20 MB body', () => {
  // The client runs in a process of its own, as it would.
  const client = `
    import { connect } from 'node:net';
    const url = new URL(process.argv[1]);
    const ok = 'Basic ' + Buffer.from('alice:pw').toString('base64');
    const body = Buffer.alloc(20_000_000, 0x61);
    const outcomes = [];
    for (let i = 0; i < 10; i++) {
      outcomes.push(await new Promise((resolve) => {
        const s = connect(Number(url.port), '127.0.0.1');
        let text = '';
        let error = '';
        s.on('error', (e) => (error = e.code));
        s.on('data', (d) => (text += d));
        s.on('close', () => resolve(((text.match(/HTTP\\/1\\.1 \\d{3}/g) ?? []).join('+') || 'nothing') + (error ? ' ' + error : '')));
        s.write('GET /auth?service=reg HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: ' + ok + '\\r\\n\\r\\n' +
          'POST /auth HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/x-www-form-urlencoded\\r\\n' +
          'Content-Length: ' + body.length + '\\r\\n\\r\\n');
        s.write(body);
        setTimeout(() => s.destroy(), 5000);
      }));
    }
    console.log(JSON.stringify(outcomes));`;
  return new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', client, server.url], (err, stdout) => {
      if (err) return reject(err);
      try {
        expect((JSON.parse(stdout) as string[]).filter((o) => o !== 'HTTP/1.1 200+HTTP/1.1 413')).toEqual([]);
        resolve();
      } catch (e) {
        reject(e);
      }
    });
  });
}, 120_000);

// An Expect header other than 100-continue gets a 417 with `Connection: close`, and a guess
// pipelined behind it was processed. Found by a review.
test('a guess pipelined behind a 417 (Connection: close) is not processed', async () => {
  const before = logs.length;
  const reply = await send(
    'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n' +
      `GET /auth?service=reg HTTP/1.1\r\nHost: x\r\nAuthorization: ${WRONG}\r\n\r\n`,
  );
  await sleep(300);
  expect(reply).toMatch(/^HTTP\/1\.1 417 [^]*\r\nConnection: close\r\n/i);
  expect(reply.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 417']);
  expect(statusesSince(before)).toEqual([]);
});

// The raw error reply of bytes node cannot parse, pipelined behind a request still being answered
// (a token GET waiting for bcrypt), was written at once: it arrived as that request's reply, and
// the token issued for it (audited 200) was lost. Found by a review.
test.each([
  ['a request after Connection: close', 'Connection: close\r\n', 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a header over 16 KiB', '', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
  ['bytes that are no request', '', 'NOT HTTP\r\n\r\n'],
])(
  '%s, pipelined behind a token request being answered, never replaces its reply',
  async (_what, extra, second) => {
    const before = logs.length;
    const reply = await send(
      `GET /auth?service=reg HTTP/1.1\r\nHost: x\r\n${extra}Authorization: ${RIGHT}\r\n\r\n` + second,
    );
    await sleep(200);
    expect(statusesSince(before)).toEqual([200]);
    // The first reply on the connection is the token request's, or none: never another's error.
    const first = /^HTTP\/1\.1 \d{3}/.exec(reply)?.[0] ?? 'nothing';
    expect(['HTTP/1.1 200', 'nothing']).toContain(first);
  },
);
