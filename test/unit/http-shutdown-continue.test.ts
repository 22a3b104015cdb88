/**
 * Found by a review of 95073af: after close() began, every reply closes its connection. A request with
 * `Expect: 100-continue` whose headers complete after the shutdown began goes through
 * 'checkContinue' (errors.ts), which calls closeAfterReply before the listener sets the shutdown
 * mark; closeAfterReply remembers the keep-alive of that moment (true), and continueIfAwaited's
 * undo writes it back after the listener's `res.shouldKeepAlive = false`: the reply says
 * keep-alive and the connection stays open during shutdown.
 */
import bcrypt from 'bcryptjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';
import { sleep, until } from '../helpers/wait.js';

const tmp = tempDir('regauth-shutdown-continue-');
afterAll(() => tmp.cleanup());

test('a 100-continue request whose headers complete after close() began is answered Connection: close', async () => {
  const dir = join(tmp.dir, 'c');
  mkdirSync(dir);
  const keys = await writeSigningKey(dir);
  const configFile = join(dir, 'config.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}
users: {alice: {password: "${bcrypt.hashSync('pw', 4)}"}}
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
  const socket: Socket = connect(Number(port), '127.0.0.1');
  let received = '';
  let closed = false;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (received += d));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  const body = 'grant_type=password&service=x&client_id=c&username=alice&password=pw';
  try {
    await new Promise<void>((r) => socket.once('connect', () => r()));
    // The request has begun (so the connection is not idle) when the shutdown begins.
    socket.write('POST /auth HTTP/1.1\r\nHost: x\r\n');
    await sleep(50);
    const closing = service.close(10_000);
    await sleep(20);
    socket.write(
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
    );
    expect(await until(() => received.includes('100 Continue'), 3_000)).toBe(true);
    socket.write(body);
    expect(
      await until(
        () =>
          /HTTP\/1\.1 [2-5]\d\d [^\r]*\r\n[\s\S]*\r\n\r\n/.test(
            received.replace(/^HTTP\/1\.1 100[^\r]*\r\n\r\n/, ''),
          ),
        3_000,
      ),
    ).toBe(true);
    const reply = received.replace(/^HTTP\/1\.1 100[^\r]*\r\n\r\n/, '');
    const head = reply.slice(0, reply.indexOf('\r\n\r\n')).toLowerCase();
    await until(() => closed, 1_500);
    expect({ status: head.split('\r\n')[0], saysClose: head.includes('connection: close'), closed }).toEqual({
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
