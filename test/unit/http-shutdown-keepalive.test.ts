/**
 * Found by a review of the life of `regauth serve`: shutdown and keep-alive connections.
 *
 * docs/operations.md "Shutdown": "SIGTERM (or SIGINT) stops accepting connections, lets requests
 * in flight finish for up to 10 s, closes the backends, and exits 0". The SIGTERM handler
 * (src/cli/program.ts stop) calls Service.close(10_000), which is RunningServer.close
 * (src/http/server.ts:70-79): server.close() + closeIdleConnections() once, at the signal.
 *
 * A keep-alive connection whose request is in flight at that moment is not idle, so it is left
 * open; its reply still says `Connection: keep-alive`, and once it is written the connection
 * stays open and node keeps reading requests on it. A client that reuses its connection (docker
 * pulling layers, HAProxy's http-reuse towards its backends) thus has NEW requests accepted and
 * answered after the signal, for the whole grace period, until closeAllConnections() cuts off
 * whatever is in flight at its end (a request started after the signal, answered with nothing).
 * The reply finished during shutdown should close its connection (`Connection: close`), and no
 * request sent after it should be taken.
 */
import bcrypt from 'bcryptjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { basic, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';
import { sleep, until } from '../helpers/wait.js';

const tmp = tempDir('regauth-shutdown-keepalive-');
afterAll(() => tmp.cleanup());

/**
 * A service for alice (password `pw`, a hash of `cost`: 12 makes a login take long enough to
 * begin the shutdown during it), over TLS or not, and a raw connection to it that records what
 * it receives.
 */
async function serviceAndConnection(name: string, cost: number, tls: boolean) {
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  const keys = await writeSigningKey(dir);
  const configFile = join(dir, 'config.yml');
  const listener = tls ? `, key: ${keys.keyPath}, certificate: ${keys.certPath}` : '';
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:0"${listener}}
token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}
users: {alice: {password: "${bcrypt.hashSync('pw', cost)}"}}
acl: [{match: {}, actions: [pull]}]
`,
  );
  const service = await startService({
    configFile,
    logger: createLogger({ destination: logSink().stream, format: 'json' }),
    watch: false,
  });
  const port = Number(new URL(service.url).port);
  const socket: Socket = tls
    ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false })
    : connect(port, '127.0.0.1');
  const seen = { received: '', closed: false };
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (seen.received += d));
  socket.on('close', () => (seen.closed = true));
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once(tls ? 'secureConnect' : 'connect', () => r()));
  return { service, socket, seen };
}

test.each(['http', 'https'])(
  '%s: a keep-alive connection whose request was in flight at shutdown is closed after that reply; no later request on it is taken',
  async (scheme) => {
    const { service, socket, seen } = await serviceAndConnection(scheme, 12, scheme === 'https');
    const request = `GET /auth?service=x HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('alice', 'pw')}\r\n\r\n`;
    const replies = () => seen.received.split('HTTP/1.1 ').length - 1;
    try {
      socket.write(request);
      await sleep(40);
      // What SIGTERM does, with a grace long enough for the reply in flight.
      const closing = service.close(10_000);
      let closedAt: number | undefined;
      void closing.then(() => (closedAt = Date.now()));
      // The request in flight is answered.
      expect(await until(() => replies() === 1 && seen.received.includes('"token"'), 8_000)).toBe(true);
      const answeredAt = Date.now();
      const firstHead = seen.received.slice(0, seen.received.indexOf('\r\n\r\n')).toLowerCase();
      // The client reuses the connection, as docker and proxies do.
      if (!seen.closed) socket.write(request.replace('/auth?service=x', '/healthz'));
      await until(() => replies() > 1, 1_000);
      await until(() => seen.closed && closedAt !== undefined, Math.max(0, answeredAt + 2_000 - Date.now()));
      const observed = {
        // The reply written during shutdown tells the client not to reuse the connection...
        firstReplySaysClose: firstHead.includes('connection: close'),
        // ...no request sent after it is answered...
        repliesToLaterRequests: replies() - 1,
        // ...and the connection (so the shutdown) does not wait for the keep-alive timeout.
        connectionClosedWithin2s: seen.closed,
        closeResolvedWithin2s: closedAt !== undefined && closedAt - answeredAt < 2_000,
      };
      // Before the fix: `Connection: keep-alive`, the /healthz sent after it answered 200, and the
      // connection (and close()) waited for the keep-alive timeout (headers_timeout, 5 s).
      expect(observed).toEqual({
        firstReplySaysClose: true,
        repliesToLaterRequests: 0,
        connectionClosedWithin2s: true,
        closeResolvedWithin2s: true,
      });
      await closing;
    } finally {
      socket.destroy();
      await service.close(100).catch(() => undefined);
    }
  },
  30_000,
);

// Found by a review of 95073af: after close() began, every reply closes its connection. A
// request with `Expect: 100-continue` whose headers complete after the shutdown began goes through
// 'checkContinue' (errors.ts), which calls closeAfterReply before the listener sets the shutdown
// mark; closeAfterReply remembers the keep-alive of that moment (true), and continueIfAwaited's
// undo writes it back after the listener's `res.shouldKeepAlive = false`: the reply says
// keep-alive and the connection stays open during shutdown.
test('a 100-continue request whose headers complete after close() began is answered Connection: close', async () => {
  const { service, socket, seen } = await serviceAndConnection('continue', 4, false);
  const body = 'grant_type=password&service=x&client_id=c&username=alice&password=pw';
  try {
    // The request has begun (so the connection is not idle) when the shutdown begins.
    socket.write('POST /auth HTTP/1.1\r\nHost: x\r\n');
    await sleep(50);
    const closing = service.close(10_000);
    await sleep(20);
    socket.write(
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
    );
    expect(await until(() => seen.received.includes('100 Continue'), 3_000)).toBe(true);
    socket.write(body);
    expect(
      await until(
        () =>
          /HTTP\/1\.1 [2-5]\d\d [^\r]*\r\n[\s\S]*\r\n\r\n/.test(
            seen.received.replace(/^HTTP\/1\.1 100[^\r]*\r\n\r\n/, ''),
          ),
        3_000,
      ),
    ).toBe(true);
    const reply = seen.received.replace(/^HTTP\/1\.1 100[^\r]*\r\n\r\n/, '');
    const head = reply.slice(0, reply.indexOf('\r\n\r\n')).toLowerCase();
    await until(() => seen.closed, 1_500);
    expect({
      status: head.split('\r\n')[0],
      saysClose: head.includes('connection: close'),
      closed: seen.closed,
    }).toEqual({
      status: 'http/1.1 200 ok',
      saysClose: true,
      closed: true,
    });
    await closing;
  } finally {
    socket.destroy();
    await service.close(100).catch(() => undefined);
  }
}, 20_000);
