/**
 * docs/operations.md ("Reload"): "requests already running finish with the old one", whose
 * backends close once the last of them has ended, and not before 30 s.
 *
 * Found by a review of config reload and the key tools: the replaced runtime's backends were
 * closed a fixed 30 s after the swap, and closeRuntime aborts every ext_auth run in flight, so a
 * login still under way then (ext_auth.timeout allows 60 s, and as long again waiting for a slot)
 * was answered 503. Found by a review of the fix: the hold was taken on the runtime current when
 * the headers arrived, but a POST to /auth reads the runtime after its body, so after a reload
 * between the two it ran on a runtime it did not hold, which a second reload closed under it.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, expect, test, vi } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService, type Service } from '../../src/service/service.js';
import { basic, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-reload-hold-');
afterAll(() => tmp.cleanup());
afterEach(() => vi.useRealTimers());

/**
 * A service whose ext_auth login takes its time (an MFA push waiting for the user): it starts
 * (`started` appears) and answers once `go()` is called. `reloadWith(comment)` rewrites the ACL's
 * comment and reloads.
 */
async function slowLoginService(name: string): Promise<{
  service: Service;
  go(): void;
  started(): boolean;
  reloadWith(comment: string): Promise<void>;
}> {
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  const keys = await writeSigningKey(dir);
  const goFile = join(dir, 'go');
  const startedFile = join(dir, 'started');
  const script = join(dir, 'slow-auth.sh');
  writeFileSync(
    script,
    `#!/bin/sh\ncat >/dev/null\n: > ${startedFile}\nwhile [ ! -e ${goFile} ]; do sleep 0.05; done\nexit 0\n`,
  );
  chmodSync(script, 0o755);
  const configFile = join(dir, 'config.yml');
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
  return {
    service,
    go: () => writeFileSync(goFile, ''),
    started: () => existsSync(startedFile),
    reloadWith: async (comment) => {
      writeFileSync(configFile, config(comment));
      await service.reload();
    },
  };
}

/** Waits until the login has started its command. */
async function loginStarted(s: { started(): boolean }): Promise<void> {
  await vi.waitFor(
    () => {
      if (!s.started()) throw new Error('not started');
    },
    { timeout: 5000, interval: 20 },
  );
}

/** A reload while the login runs, then 31 s pass (the clock only) before it answers. */
async function reloadAndWait(s: { reloadWith(comment: string): Promise<void> }, comment: string) {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  await s.reloadWith(comment);
  vi.advanceTimersByTime(31_000);
  vi.useRealTimers();
}

test('a login still running 31 s after a reload (ext_auth timeout 60 s) is answered, not cut off', async () => {
  const s = await slowLoginService('get');
  try {
    const answer = fetch(`${s.service.url}/auth?service=registry.example.com&scope=repository:a:pull`, {
      headers: { authorization: basic('alice', 'pw') },
    });
    await loginStarted(s);
    await reloadAndWait(s, 'two');
    s.go();
    expect((await answer).status).toBe(200);
  } finally {
    s.go();
    await s.service.close(100);
  }
}, 20_000);

test('a POST login whose body came after a reload is answered, though a second reload retires its runtime', async () => {
  const s = await slowLoginService('post');
  const { port } = new URL(s.service.url);
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
    await s.reloadWith('two');
    // The body after the reload: the login runs on the second runtime.
    socket.write(body);
    await loginStarted(s);
    await reloadAndWait(s, 'three');
    s.go();
    await vi.waitFor(
      () => {
        if (!/^HTTP\/1\.1 \d{3}/.test(reply)) throw new Error('no reply yet');
      },
      { timeout: 5000, interval: 20 },
    );
    expect(reply.slice(0, 12)).toBe('HTTP/1.1 200');
  } finally {
    s.go();
    socket.destroy();
    await s.service.close(100);
  }
}, 20_000);
