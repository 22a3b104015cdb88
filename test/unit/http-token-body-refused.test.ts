import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
import { tempDir } from '../helpers/fixtures.js';
import { aliceConfig, startTestServer } from '../helpers/server.js';

// docs/http-api.md "The reply": "Replies, successful or not, carry Cache-Control: no-store and an
// X-Request-Id that the audit line repeats"; docs/operations.md "Audit log": "One line per token
// request". A token POST refused while its body was read (413, 415) got neither, and was not
// counted in the metrics: a flood of them left no trace. Found by a review.
const tmp = tempDir();
let server: RunningServer;
let logs: string[];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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

test.each([
  [
    '413 body too large',
    { 'content-type': 'application/x-www-form-urlencoded' },
    'a='.padEnd(70_000, 'x'),
    413,
  ],
  [
    '415 unknown charset',
    { 'content-type': 'application/x-www-form-urlencoded; charset=bogus' },
    'grant_type=password&username=alice&password=pw',
    415,
  ],
  [
    '415 unknown content-encoding',
    { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'zstd' },
    'grant_type=password&username=alice&password=pw',
    415,
  ],
] as const)(
  '%s: a token POST reply carries X-Request-Id, no-cache, and writes its audit line',
  async (_n, headers, body, status) => {
    const before = logs.length;
    const res = await fetch(`${server.url}/auth`, { method: 'POST', headers, body });
    expect(res.status).toBe(status);
    await res.text();
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(UUID);
    await new Promise((r) => setTimeout(r, 50));
    const audit = logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.some((l) => l['requestId'] === id && l['status'] === status)).toBe(true);
  },
);

/** Sends a raw request and closes the connection 100 ms later, without reading the reply. */
function sendAndHangUp(head: string, body: Buffer): Promise<void> {
  const url = new URL(server.url);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      socket.write(head);
      socket.write(body);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
  });
}

test.each([
  ['a gzip bomb past the limit (413)', 413],
  ['a body cut short (400)', 400],
] as const)('%s from a client that hung up: the audit line names the client', async (_n, status) => {
  // The body is read to its end before the refusal is handled; by then the socket of a client
  // that hung up (the cheap way to flood) had no address, and the line said ip: null.
  const before = logs.length;
  const body = status === 413 ? gzipSync(Buffer.alloc(200_000, 0x61)) : Buffer.from('grant_type=pass');
  const extra = status === 413 ? 'Content-Encoding: gzip\r\n' : '';
  await sendAndHangUp(
    `POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n${extra}Content-Length: ${body.length + 100}\r\n\r\n`,
    body,
  );
  await new Promise((r) => setTimeout(r, 200));
  const audit = logs
    .slice(before)
    .map((l) => JSON.parse(l) as { status?: number; client?: unknown })
    .filter((l) => l.status === status);
  expect(audit.map((l) => l.client)).toEqual([{ ip: '127.0.0.1', via: null }]);
});

test.each([0xff, 0xfe])('a form holding the byte %i, not UTF-8, is refused (400)', async (byte) => {
  // Read as UTF-8 with U+FFFD for a bad byte, p\xFF and p\xFE were one password (the same sent
  // percent-escaped was refused). Found by a review.
  const res = await fetch(`${server.url}/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: Buffer.concat([
      Buffer.from('grant_type=password&service=reg&username=alice&password=p'),
      Buffer.from([byte]),
    ]),
  });
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({
    error: 'invalid_request',
    error_description: 'the form is not UTF-8',
  });
});

// Found by the review of the HTTP layer: a Content-Length over the limit was refused only after
// the whole declared body was read (body-parser drains it first), so a client that declared
// 100 MB and sent 70 KB got a 408 at request_timeout instead of the 413, and one that sent it all
// made regauth read 100 MB.
test('a declared body over the limit gets its 413 at once, and the connection is closed', async () => {
  const started = Date.now();
  const reply = await new Promise<string>((resolve) => {
    const s = connect(Number(new URL(server.url).port), '127.0.0.1');
    let text = '';
    s.on('error', () => undefined);
    s.on('data', (d) => (text += d));
    s.on('close', () => resolve(text));
    s.write(
      'POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
        `Content-Length: 100000000\r\n\r\n${'a'.repeat(70_000)}`,
    );
  });
  expect(reply).toMatch(/^HTTP\/1\.1 413 /);
  expect(reply).toMatch(/\r\nConnection: close\r\n/i);
  expect(Date.now() - started).toBeLessThan(3000);
});

// The same for a chunked body, whose length is not declared: body-parser drained it until it
// ended or request_timeout passed, so a client streaming a body without end held its connection
// and made regauth read every byte before it got the 413. Found by a review.
test('a chunked body over the limit gets its 413 as soon as it passes it, and the connection is closed', async () => {
  const started = Date.now();
  let sent = 0;
  const reply = await new Promise<string>((resolve) => {
    const s = connect(Number(new URL(server.url).port), '127.0.0.1');
    let text = '';
    s.on('error', () => undefined);
    s.on('data', (d) => (text += d));
    const chunk = `${(16_384).toString(16)}\r\n${'a'.repeat(16_384)}\r\n`;
    // Keeps sending chunks, never the last one, until the connection closes (or 5 s pass).
    const feed = setInterval(() => {
      if (!s.destroyed && Date.now() - started < 5000) {
        s.write(chunk);
        sent += 16_384;
      }
    }, 20);
    s.on('close', () => {
      clearInterval(feed);
      resolve(text);
    });
    s.write(
      'POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n',
    );
  });
  expect(reply).toMatch(/^HTTP\/1\.1 413 /);
  expect(reply).toMatch(/\r\nConnection: close\r\n/i);
  expect(Date.now() - started).toBeLessThan(3000);
  // Refused once past the limit (64 KiB), not after reading what came after it.
  expect(sent).toBeLessThan(200_000);
});

test('a chunked body under the limit is read whole, as before', async () => {
  const form = 'grant_type=password&service=reg&username=alice&password=pw';
  const reply = await new Promise<string>((resolve) => {
    const s = connect(Number(new URL(server.url).port), '127.0.0.1');
    let text = '';
    s.on('data', (d) => {
      text += d;
      if (text.includes('"access_token"')) s.end();
    });
    s.on('close', () => resolve(text));
    s.write(
      'POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n',
    );
    for (const part of [form.slice(0, 20), form.slice(20)])
      s.write(`${part.length.toString(16)}\r\n${part}\r\n`);
    s.write('0\r\n\r\n');
  });
  expect(reply).toMatch(/^HTTP\/1\.1 200 /);
});

/** Writes `data` on a new connection; resolves with all it got back once the server closed it. */
function exchange(data: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(Number(new URL(server.url).port), '127.0.0.1');
    let text = '';
    s.on('error', () => undefined);
    s.on('data', (d) => (text += d));
    s.on('close', () => resolve(text));
    s.write(data);
  });
}

// The 413 of a declared length over the limit is decided from the headers alone, yet node's
// `100 Continue` went first: the client was told to send the body, which was then cut off with
// the connection (curl, which asks for it above 1 MB, reported a broken pipe, not the 413).
// Found by a review.
test('Expect: 100-continue with a Content-Length over the limit gets the 413 alone', async () => {
  const text = await exchange(
    'POST /auth HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n' +
      'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000\r\n\r\n',
  );
  expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 413']);
});

test('Expect: 100-continue with a body under the limit still gets the 100, then the token', async () => {
  const form = 'grant_type=password&service=reg&username=alice&password=pw';
  const text = await new Promise<string>((resolve) => {
    const s = connect(Number(new URL(server.url).port), '127.0.0.1');
    let got = '';
    s.on('data', (d) => {
      got += d;
      if (got.startsWith('HTTP/1.1 100') && !got.includes('HTTP/1.1 200')) s.write(form);
      if (got.includes('"access_token"')) s.end();
    });
    s.on('close', () => resolve(got));
    s.write(
      'POST /auth HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n' +
        `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n\r\n`,
    );
  });
  expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 100', 'HTTP/1.1 200']);
});

test('Expect: 100-continue answered with the 100: the connection is kept alive for the next request', async () => {
  // Until the 100 is sent, the connection is held as closing (a reply without it ends it).
  const form = 'grant_type=password&service=reg&username=alice&password=pw';
  const text = await new Promise<string>((resolve) => {
    const s = connect(Number(new URL(server.url).port), '127.0.0.1');
    let got = '';
    let asked = false;
    s.on('data', (d) => {
      got += d;
      if (got.startsWith('HTTP/1.1 100') && !got.includes('HTTP/1.1 200')) s.write(form);
      if (got.includes('"access_token"') && !asked) {
        asked = true;
        s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      }
      if ((got.match(/HTTP\/1\.1 200/g) ?? []).length === 2) s.end();
    });
    s.on('close', () => resolve(got));
    s.write(
      'POST /auth HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n' +
        `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n\r\n`,
    );
  });
  expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 100', 'HTTP/1.1 200', 'HTTP/1.1 200']);
  expect(text).not.toMatch(/\r\nConnection: close\r\n/i);
});

// A client that sends its body at once (node's fetch, as most clients) got a connection reset,
// not the 413: the connection was closed as soon as the 413 was written, with the body still
// arriving, and the kernel answers that with a reset. Found by a review. The client runs in a
// process of its own, as it would (in this one it shares the server's event loop).
test('a client sending a 20 MB body gets the 413 every time', () => {
  const client = `
    const outcomes = [];
    for (let i = 0; i < 30; i++) {
      try {
        const res = await fetch(process.argv[1] + '/auth', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: Buffer.alloc(20_000_000, 0x61),
        });
        await res.text();
        outcomes.push(String(res.status));
      } catch (err) {
        outcomes.push(err.cause?.code ?? String(err));
      }
    }
    console.log(JSON.stringify(outcomes));`;
  return new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', client, server.url], (err, stdout) => {
      if (err) return reject(err);
      try {
        const outcomes = JSON.parse(stdout) as string[];
        expect(outcomes.filter((o) => o !== '413')).toEqual([]);
        resolve();
      } catch (e) {
        reject(e);
      }
    });
  });
}, 60_000);

// A form sent as UTF-16 may hold a lone surrogate, which the form's parser read as U+FFFD like a
// bad byte: `p\uD800` and `p\uDC00` were one password with `p\uFFFD`. Found by a review. Only
// UTF-8 forms are read now (http-token-form-charsets.test.ts).
test.each(['\uD800', '\uDC00', 'w'])('a UTF-16 form whose password ends in %j is refused', async (last) => {
  const form = `grant_type=password&service=reg&username=alice&password=p${last}`;
  const body = Buffer.alloc(form.length * 2);
  for (let i = 0; i < form.length; i++) body.writeUInt16LE(form.charCodeAt(i), i * 2);
  const res = await fetch(`${server.url}/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-16le' },
    body,
  });
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ error_description: 'the form must be UTF-8, not utf-16le' });
});
