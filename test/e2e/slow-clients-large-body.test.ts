// Found by a review: examples/haproxy.cfg promised that with `option http-buffer-request` "a body
// sent a byte at a time never reaches regauth", and docs/deployment.md "Slow clients" that under a
// flood of stalled requests everyone else keeps logging in. HAProxy holds only what fits its buffer
// (16 KiB then): a request declaring a larger body was passed on as soon as the buffer was full, and the
// rest could then come as slowly as regauth's request_timeout (10 s) allowed, each such request
// holding one of regauth's connections. Six addresses within the per-source limit (or, over HTTP/2,
// one address with seven connections of 100 streams) filled regauth's max_connections. Such a
// request is now refused by HAProxy (413), and requests whose body it holds whole still pass.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { basic, hash, randomPassword } from '../helpers/fixtures.js';
import { REPO_ROOT, startHaproxy, type Haproxy } from './harness/deploy.js';
import { freePort } from './harness/ports.js';
import { haproxyTlsPem, shippedBufferSize } from './harness/half-body.js';
import { startRegauth, type RegauthStack } from './harness/stack.js';

/** HAProxy's buffer in the shipped config. */
const BUFFER = shippedBufferSize();
const alice = randomPassword();
let stack: RegauthStack;
let haproxy: Haproxy;
let tlsHaproxy: Haproxy;
const dir = mkdtempSync(join(tmpdir(), 'review-large-body-'));

beforeAll(async () => {
  stack = await startRegauth({
    name: 'review-large-body',
    // regauth's defaults (headers_timeout 5 s, request_timeout 10 s, max_connections 512).
    server: '  trusted_proxies: [127.0.0.1]',
    config: `users:\n  alice: {password: "${hash(alice)}"}\nacl:\n  - match: {account: alice}\n    actions: [pull]\n`,
  });
  haproxy = await startHaproxy({
    configPath: join(REPO_ROOT, 'examples/haproxy.cfg'),
    env: {
      REGISTRY_ADDR: `127.0.0.1:${await freePort()}`,
      REGAUTH_ADDR: `127.0.0.1:${new URL(stack.regauth.url).port}`,
    },
  });
  // The compose stack's listener: TLS, alpn h2,http/1.1 (HAPROXY_TLS_CERT set).
  const pem = await haproxyTlsPem(dir);
  tlsHaproxy = await startHaproxy({
    configPath: join(REPO_ROOT, 'examples/haproxy.cfg'),
    tlsCert: pem,
    env: {
      REGISTRY_ADDR: `127.0.0.1:${await freePort()}`,
      REGAUTH_ADDR: `127.0.0.1:${new URL(stack.regauth.url).port}`,
    },
  });
  await new Promise((r) => setTimeout(r, 1500));
}, 60_000);

afterAll(async () => {
  await haproxy?.stop();
  await tlsHaproxy?.stop();
  rmSync(dir, { recursive: true, force: true });
  await stack?.stop();
});

/** A token request that declares a body past HAProxy's buffer, sends most of it at once, then stalls. */
function stalledBody(localAddress: string): Promise<Socket> {
  const declared = BUFFER + 8000;
  const head =
    'POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
    `Content-Length: ${declared}\r\n\r\n`;
  const sent = `grant_type=password&username=alice&password=${'a'.repeat(BUFFER + 1000)}`;
  return new Promise((resolve) => {
    const socket = connect({ port: haproxy.port, host: '127.0.0.1', localAddress });
    socket.on('error', () => undefined);
    socket.resume();
    socket.once('connect', () => {
      socket.write(head + sent);
      resolve(socket);
    });
    socket.once('close', () => resolve(socket));
  });
}

function timedLogin(localAddress: string): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = request(
      `${haproxy.url}/auth?service=x&scope=repository:x:pull`,
      { localAddress, headers: { authorization: basic('alice', alice) }, agent: false, timeout: 8000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, ms: Date.now() - started }));
    req.end();
  });
}

test('requests with a large stalled body from six addresses leave logins from a seventh answered', async () => {
  // Before the flood: a login is answered at once.
  expect((await timedLogin('127.0.0.70')).status).toBe(200);
  const flood: Socket[] = [];
  try {
    for (let source = 71; source <= 76; source++) {
      flood.push(...(await Promise.all(Array.from({ length: 100 }, () => stalledBody(`127.0.0.${source}`)))));
    }
    // HAProxy has passed the buffered part of each on to regauth by now.
    await new Promise((r) => setTimeout(r, 1500));
    const login = await timedLogin('127.0.0.77');
    // The promise of docs/deployment.md "Slow clients": everyone else keeps logging in.
    expect(login.status, JSON.stringify(login)).toBe(200);
    expect(login.ms, JSON.stringify(login)).toBeLessThan(1000);
  } finally {
    for (const s of flood) s.destroy();
  }
}, 60_000);

function timedTlsLogin(localAddress: string): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = httpsRequest(
      `${tlsHaproxy.url}/auth?service=x&scope=repository:x:pull`,
      {
        localAddress,
        headers: { authorization: basic('alice', alice) },
        agent: false,
        timeout: 8000,
        rejectUnauthorized: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, ms: Date.now() - started }));
    req.end();
  });
}

/** One HTTP/2 connection from `localAddress` carrying `streams` token requests, each stalled past the buffer. */
async function h2Stalled(localAddress: string, streams: number): Promise<ClientHttp2Session> {
  const session = h2connect(tlsHaproxy.url, {
    createConnection: () =>
      tlsConnect({
        // TLS over a TCP connection made from the chosen client address.
        socket: connect({ host: '127.0.0.1', port: tlsHaproxy.port, localAddress }),
        ALPNProtocols: ['h2'],
        servername: 'localhost',
        rejectUnauthorized: false,
      }),
  });
  session.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    session.once('remoteSettings', () => resolve());
    session.once('close', () => resolve());
  });
  const sent = `grant_type=password&username=alice&password=${'a'.repeat(BUFFER + 1000)}`;
  for (let i = 0; i < streams; i++) {
    const stream = session.request(
      {
        ':method': 'POST',
        ':path': '/auth/token',
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(BUFFER + 8000),
      },
      { endStream: false },
    );
    stream.on('error', () => undefined);
    stream.resume();
    stream.write(sent);
  }
  return session;
}

test('over HTTP/2, requests with a large stalled body from ONE address leave logins from others answered', async () => {
  expect((await timedTlsLogin('127.0.0.80')).status).toBe(200);
  const sessions: ClientHttp2Session[] = [];
  try {
    // Seven connections from one address: far inside HAProxy's per-source limit of 100.
    for (let i = 0; i < 7; i++) sessions.push(await h2Stalled('127.0.0.81', 100));
    await new Promise((r) => setTimeout(r, 2000));
    const login = await timedTlsLogin('127.0.0.82');
    expect(login.status, JSON.stringify(login)).toBe(200);
    expect(login.ms, JSON.stringify(login)).toBeLessThan(1000);
  } finally {
    for (const s of sessions) s.destroy();
  }
}, 60_000);

/** A request through the plain listener, written as it is; the status line's code. */
function exchange(raw: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const socket = connect({ port: haproxy.port, host: '127.0.0.1' });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (text += c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
    socket.once('connect', () => socket.write(raw));
  });
}

const form = () =>
  `grant_type=password&username=alice&password=${encodeURIComponent(alice)}&service=x&client_id=t`;
const head =
  'POST /auth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n';

test('a token request whose whole body HAProxy holds still reaches regauth: chunked, or with its length', async () => {
  const body = form();
  const chunked = await exchange(
    `${head}Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
  );
  expect(chunked.status, chunked.text).toBe(200);
  expect(chunked.text).toContain('"access_token"');
  const sized = await exchange(`${head}Content-Length: ${body.length}\r\n\r\n${body}`);
  expect(sized.status, sized.text).toBe(200);
});

test('over HTTP/2, a token request without content-length still reaches regauth', async () => {
  const session = h2connect(tlsHaproxy.url, { rejectUnauthorized: false });
  session.on('error', () => undefined);
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/auth/token',
      'content-type': 'application/x-www-form-urlencoded',
    });
    let status = 0;
    let text = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (text += c));
    stream.end(form());
    await new Promise((resolve) => stream.on('close', resolve));
    expect(status, text).toBe(200);
    expect(text).toContain('"access_token"');
  } finally {
    session.destroy();
  }
});

test('a body HAProxy cannot hold whole is refused there with a JSON 413, even when it all arrives', async () => {
  const body = `${form()}&pad=${'a'.repeat(BUFFER + 1000)}`;
  const res = await exchange(`${head}Content-Length: ${body.length}\r\n\r\n${body}`);
  expect(res.status, res.text).toBe(413);
  expect(JSON.parse(res.text.slice(res.text.indexOf('\r\n\r\n') + 4))).toEqual({
    errors: [{ code: 'SIZE_INVALID', message: 'request too large' }],
  });
});

// Found by a review of the first fix, which counted the header and the body but not the request
// line: a long query string filled HAProxy's buffer with a body of a few KB, which then passed
// on half-sent (over HTTP/2 without content-length, or chunked).
/** One HTTP/2 connection carrying 100 token requests: a query that nearly fills the buffer, no content-length, a stalled body. */
async function longQueryStalled(localAddress: string): Promise<ClientHttp2Session> {
  const session = h2connect(tlsHaproxy.url, {
    createConnection: () =>
      tlsConnect({
        socket: connect({ host: '127.0.0.1', port: tlsHaproxy.port, localAddress }),
        ALPNProtocols: ['h2'],
        servername: 'localhost',
        rejectUnauthorized: false,
      }),
  });
  session.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    session.once('remoteSettings', () => resolve());
    session.once('close', () => resolve());
  });
  for (let i = 0; i < 100; i++) {
    const stream = session.request(
      {
        ':method': 'POST',
        ':path': `/auth/token?x=${'a'.repeat(BUFFER - 2000)}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      { endStream: false },
    );
    stream.on('error', () => undefined);
    stream.resume();
    stream.write('b'.repeat(3000));
  }
  return session;
}

test('HTTP/2 requests with a long query and a stalled body from one address leave logins from others answered', async () => {
  expect((await timedTlsLogin('127.0.0.90')).status).toBe(200);
  const sessions: ClientHttp2Session[] = [];
  try {
    for (let i = 0; i < 6; i++) sessions.push(await longQueryStalled('127.0.0.91'));
    await new Promise((r) => setTimeout(r, 2000));
    const login = await timedTlsLogin('127.0.0.92');
    expect(login.status, JSON.stringify(login)).toBe(200);
    expect(login.ms, JSON.stringify(login)).toBeLessThan(1000);
  } finally {
    for (const session of sessions) session.destroy();
  }
}, 60_000);

// Found by the same review: the first fix refused any request without Content-Length past 8 KiB,
// bodyless GETs with large cookies or a long catalog token among them.
const cookie = Array.from({ length: 40 }, (_, i) => `c${i}=${'v'.repeat(290)}`).join('; ');

test('a token GET with a 12 KB header is answered by regauth through HAProxy', async () => {
  const res = await exchange(
    `GET /auth?service=x&scope=repository:x:pull HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: ${basic('alice', alice)}\r\nCookie: ${cookie}\r\n\r\n`,
  );
  expect(res.status, res.text.slice(0, 200)).toBe(200);
});

test('over HTTP/2, a catalog GET with a 12 KB bearer token gets the answer regauth gives it directly', async () => {
  const session = h2connect(tlsHaproxy.url, { rejectUnauthorized: false });
  session.on('error', () => undefined);
  try {
    const stream = session.request({
      ':path': '/v2/_catalog',
      authorization: `Bearer ${'e'.repeat(12_000)}`,
    });
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.resume();
    await new Promise((resolve) => stream.on('close', resolve));
    const direct = await fetch(`${stack.regauth.url}/v2/_catalog`, {
      headers: { authorization: `Bearer ${'e'.repeat(12_000)}` },
    });
    expect(direct.status).not.toBe(413);
    expect(status).toBe(direct.status);
  } finally {
    session.destroy();
  }
});
