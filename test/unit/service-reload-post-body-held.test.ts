/**
 * Found by a review of a972db0 ("Close a replaced runtime only once no request holds it").
 *
 * src/http/server.ts takes the hold when the request's headers arrive (`res.once('close',
 * hold())`), on the runtime current then; but a POST to /auth reads its body first and only then
 * reads `deps.runtime()` (src/http/routes.ts → token.ts), which after a reload meanwhile is
 * another runtime, one the request does not hold. A second reload retires that one, and 30 s
 * later it is closed under the request: its ext_auth login is aborted and answered 503 — what the
 * commit set out to prevent ("requests already running finish with the old one"). (The hold it
 * took keeps the runtime it never used open instead.) POST is what docker login (OAuth),
 * containerd and podman send.
 * Fix: src/http/server.ts / token.ts — a request holds the runtime it actually uses: read the
 * runtime once, where the hold is taken, and pass that one on (or hold in the token handler).
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, expect, test, vi } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-review-r3-post-hold-');
afterAll(() => tmp.cleanup());
afterEach(() => vi.useRealTimers());

test('a POST login whose body came after a reload is answered, though a second reload retires its runtime', async () => {
  const keys = await writeSigningKey(tmp.dir);
  const go = join(tmp.dir, 'go');
  const started = join(tmp.dir, 'started');
  const script = join(tmp.dir, 'slow-auth.sh');
  writeFileSync(
    script,
    `#!/bin/sh\ncat >/dev/null\n: > ${started}\nwhile [ ! -e ${go} ]; do sleep 0.05; done\nexit 0\n`,
  );
  chmodSync(script, 0o755);
  const configFile = join(tmp.dir, 'config.yml');
  const config = (comment: string) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}
ext_auth: {command: ${script}, timeout: 60}
acl: [{match: {}, actions: [pull], comment: ${comment}}]
`;
  writeFileSync(configFile, config('one'));
  const service = await startService({
    configFile,
    logger: createLogger({ destination: logSink().stream, format: 'json' }),
    watch: false,
  });
  const { port } = new URL(service.url);
  const socket = connect(Number(port), '127.0.0.1');
  let reply = '';
  socket.on('data', (d: Buffer) => (reply += d.toString()));
  socket.on('error', () => undefined);
  try {
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const body =
      'grant_type=password&username=alice&password=pw&service=registry.example.com&scope=repository:a:pull';
    // The headers first: the request starts (and holds the runtime current now).
    socket.write(
      `POST /auth HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(configFile, config('two'));
    await service.reload();
    // The body after the reload: the login runs on the second runtime.
    socket.write(body);
    await vi.waitFor(
      () => {
        if (!existsSync(started)) throw new Error('not started');
      },
      { timeout: 5000, interval: 20 },
    );
    // Another reload while the login runs; 31 s pass (the clock only) before it answers.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    writeFileSync(configFile, config('three'));
    await service.reload();
    vi.advanceTimersByTime(31_000);
    vi.useRealTimers();
    writeFileSync(go, '');
    await vi.waitFor(
      () => {
        if (!/^HTTP\/1\.1 \d{3}/.test(reply)) throw new Error('no reply yet');
      },
      { timeout: 5000, interval: 20 },
    );
    // Today: "HTTP/1.1 503 Service Unavailable" (ext_auth aborted by the runtime's close).
    expect(reply.slice(0, 12)).toBe('HTTP/1.1 200');
  } finally {
    writeFileSync(go, '');
    socket.destroy();
    await service.close(100);
  }
}, 20_000);
