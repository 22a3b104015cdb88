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

test.each(['http', 'https'])(
  '%s: a keep-alive connection whose request was in flight at shutdown is closed after that reply; no later request on it is taken',
  async (scheme) => {
    const dir = join(tmp.dir, scheme);
    mkdirSync(dir);
    const keys = await writeSigningKey(dir);
    const configFile = join(dir, 'config.yml');
    const tls = scheme === 'https' ? `, key: ${keys.keyPath}, certificate: ${keys.certPath}` : '';
    // A cost that makes each login take a while: long enough to begin the shutdown during one.
    const slow = bcrypt.hashSync('pw', 12);
    writeFileSync(
      configFile,
      `server: {addr: "127.0.0.1:0"${tls}}
token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}
users: {alice: {password: "${slow}"}}
acl: [{match: {}, actions: [pull]}]
`,
    );
    const log = logSink();
    const service = await startService({
      configFile,
      logger: createLogger({ destination: log.stream, format: 'json' }),
      watch: false,
    });
    const { port } = new URL(service.url);
    const socket: Socket =
      scheme === 'https'
        ? tlsConnect({ port: Number(port), host: '127.0.0.1', rejectUnauthorized: false })
        : connect(Number(port), '127.0.0.1');
    let received = '';
    let closed = false;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (received += d));
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    const request = `GET /auth?service=x HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('alice', 'pw')}\r\n\r\n`;
    const replies = () => received.split('HTTP/1.1 ').length - 1;
    try {
      await new Promise<void>((r) =>
        socket.once(scheme === 'https' ? 'secureConnect' : 'connect', () => r()),
      );
      socket.write(request);
      await sleep(40);
      // What SIGTERM does, with a grace long enough for the reply in flight.
      const closing = service.close(10_000);
      let closedAt: number | undefined;
      void closing.then(() => (closedAt = Date.now()));
      // The request in flight is answered.
      expect(await until(() => replies() === 1 && received.includes('"token"'), 8_000)).toBe(true);
      const answeredAt = Date.now();
      const firstHead = received.slice(0, received.indexOf('\r\n\r\n')).toLowerCase();
      // The client reuses the connection, as docker and proxies do.
      if (!closed) socket.write(request.replace('/auth?service=x', '/healthz'));
      await until(() => replies() > 1, 1_000);
      await until(() => closed && closedAt !== undefined, Math.max(0, answeredAt + 2_000 - Date.now()));
      const observed = {
        // The reply written during shutdown tells the client not to reuse the connection...
        firstReplySaysClose: firstHead.includes('connection: close'),
        // ...no request sent after it is answered...
        repliesToLaterRequests: replies() - 1,
        // ...and the connection (so the shutdown) does not wait for the keep-alive timeout.
        connectionClosedWithin2s: closed,
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
