import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RunRequest } from '../../src/ext/command.js';
import type { RunningServer } from '../../src/http/server.js';
import { basic, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

// A token request whose client goes away cancels the ext_auth command still running for it.
const tmp = tempDir();
const started: RunRequest[] = [];
let server: RunningServer;

beforeAll(async () => {
  const running = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `server:\n  addr: "127.0.0.1:0"\ntoken:\n  issuer: test-issuer\n  key: ${keyPath}\n  certificate: ${certPath}\next_auth:\n  command: /bin/true\n  timeout: 30\nacl: [{match: {}, actions: [pull]}]\n`,
    runtimeDeps: {
      // Never answers on its own: it ends only when the request's signal aborts.
      runCommand: (request) => {
        started.push(request);
        return new Promise((_resolve, reject) => {
          request.signal?.addEventListener('abort', () => reject(new Error('aborted')));
        });
      },
    },
  });
  server = running.server;
});
afterAll(async () => {
  await server.close(100);
  tmp.cleanup();
});

test('a client that hangs up aborts the ext_auth command running for its token request', async () => {
  const client = new AbortController();
  const request = fetch(`${server.url}/auth?service=reg&scope=repository:a/b:pull`, {
    headers: { authorization: basic('alice', randomPassword()) },
    signal: client.signal,
  }).catch(() => undefined);
  for (let i = 0; i < 200 && started.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(started).toHaveLength(1);
  const signal = started[0]!.signal;
  expect(signal?.aborted).toBe(false);
  client.abort();
  await request;
  for (let i = 0; i < 200 && !signal?.aborted; i++) await new Promise((r) => setTimeout(r, 10));
  expect(signal?.aborted).toBe(true);
});
