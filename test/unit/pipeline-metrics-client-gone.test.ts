import { request } from 'node:http';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { CommandFailure, type CommandRunner } from '../../src/ext/command.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import { createMetrics, instrumentAuthenticator } from '../../src/pipeline/metrics.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Found by a review: a client that hung up during an ext_auth login had its run cancelled, and the
// cancellation was counted as the backend failing (regauth_authenticator_errors_total) and the
// request as `unavailable`, audited at error level: any anonymous client could raise the backend's
// error alert while the command was healthy. Such a request is now `cancelled`, at info level.
// src/pipeline/metrics.ts: "A request turned away (the login queue's or a command's bound) is not
// the backend failing to answer: counting it would let one client raise the backend's error alert."
// docs/operations.md: regauth_authenticator_errors_total is "backend could not answer".
// But a client that simply hangs up while its ext_auth command runs (or waits for a slot) has its
// run cancelled (CommandFailure 'cancelled' -> BackendUnavailableError), and that is counted as an
// ext_auth error (and the request as outcome="unavailable", logged at error level): any anonymous
// client can raise the backend's error alert by opening logins and closing the connection.
const tmp = tempDir();
const metrics = createMetrics();
let srv: TestServer;
let runtime: Runtime;
let started = 0;

// A healthy command that answers "no match" after 300 ms, and honours the abort signal as the real
// spawn runner does (killing the child and rejecting with CommandFailure('cancelled')).
const runCommand: CommandRunner = (req) =>
  new Promise((resolve, reject) => {
    started += 1;
    const timer = setTimeout(() => resolve({ code: 2, signal: null, stdout: '', stderr: '' }), 300);
    req.signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new CommandFailure('cancelled'));
    });
  });

beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    runtimeDeps: { runCommand, instrument: (a) => instrumentAuthenticator(a, metrics) },
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
ext_auth: {command: /bin/true, max_concurrency: 4}
acl: [{match: {}, actions: [pull]}]
`,
    server: {
      metrics,
      loginQueue: new LoginQueue({
        policy: () => runtime.loginQueue,
        onChange: (n) => metrics.loginQueuePending.set(n),
      }),
    },
  });
  runtime = srv.runtime;
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

async function extErrors(): Promise<number> {
  const { values } = await metrics.authnErrors.get();
  return values.find((v) => v.labels['backend'] === 'ext_auth')?.value ?? 0;
}

test('the command answering normally is no error', async () => {
  const res = await fetch(`${srv.url}/auth?service=registry`, {
    headers: { authorization: basic('someone', 'pw') },
  });
  await res.arrayBuffer();
  expect(res.status).toBe(401);
  expect(await extErrors()).toBe(0);
});

test('a client hanging up mid-login is not counted as the backend failing to answer', async () => {
  const before = started;
  const url = new URL(`${srv.url}/auth?service=registry`);
  const req = request({
    host: url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    headers: { authorization: basic('someone', 'pw') },
  });
  req.on('error', () => undefined);
  req.end();
  await vi.waitFor(() => expect(started).toBe(before + 1));
  req.destroy();
  // The request has been recorded (its audit line written) once the run was cancelled.
  await vi.waitFor(() => expect(srv.logs.some((l) => l.includes('"status":503'))).toBe(true));
  const line = JSON.parse(srv.logs.find((l) => l.includes('"status":503'))!) as Record<string, unknown>;
  expect({ extErrors: await extErrors(), outcome: line['outcome'], level: line['level'] }).toEqual({
    extErrors: 0,
    outcome: 'cancelled',
    level: 30,
  });
  const requests = await metrics.tokenRequests.get();
  expect(requests.values.find((v) => v.labels['outcome'] === 'unavailable')).toBeUndefined();
});
