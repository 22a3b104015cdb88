import { request } from 'node:http';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { CommandFailure, type RunRequest } from '../../src/ext/command.js';
import { Lockout } from '../../src/guard/lockout.js';
import { basic, hash, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * A wrong password answered as a later backend's outage (a withheld denial) whose decoy run the
 * client's hang-up cancelled is recorded `cancelled` (df51fac), and must still count toward the
 * lockout: hanging up is no way to guess for free. (Checked by a review of df51fac.)
 */
const tmp = tempDir('regauth-decoy-cancel-lockout-');
const started: RunRequest[] = [];
const password = 'right-password-123';
let hang = true;
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
lockout: {max_failures: 2, backoff: 60}
users:
  alice: {password: "${hash(password)}"}
  bob: {password: "${hash(password)}"}
ext_auth: {command: /bin/true, timeout: 30}
acl: [{match: {}, actions: [pull]}]
`,
    server: { lockout: new Lockout({ maxEntries: 100, policy: () => srv.runtime.config.lockout }) },
    runtimeDeps: {
      runCommand: (req) => {
        started.push(req);
        if (!hang) return Promise.resolve({ code: 1, signal: null, stdout: '', stderr: '' });
        return new Promise((_resolve, reject) => {
          req.signal?.addEventListener('abort', () => reject(new CommandFailure('cancelled')), {
            once: true,
          });
        });
      },
    },
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

const audit = () =>
  srv.logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['requestId'] !== undefined && l['outcome'] !== undefined);

async function hangUp(account: string): Promise<Record<string, unknown>> {
  const seen = audit().length;
  const runs = started.length;
  const url = new URL(`${srv.url}/auth?service=registry`);
  const req = request({
    host: url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    headers: { authorization: basic(account, 'wrong-password') },
  });
  req.on('error', () => undefined);
  req.end();
  await vi.waitFor(() => expect(started.length).toBe(runs + 1), { timeout: 10_000 });
  req.destroy();
  await vi.waitFor(() => expect(audit().length).toBe(seen + 1), { timeout: 10_000 });
  return audit().at(-1)!;
}

test('control: wrong passwords whose decoy answers lock the account', async () => {
  hang = false;
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${srv.url}/auth?service=registry`, {
      headers: { authorization: basic('bob', 'wrong') },
    });
    expect([401, 429]).toContain(r.status);
  }
  const res = await fetch(`${srv.url}/auth?service=registry`, {
    headers: { authorization: basic('bob', password) },
  });
  hang = true;
  expect(res.status).toBe(429);
});

test('hang-ups during the decoy are cancelled, yet lock the account as wrong passwords', async () => {
  for (let i = 0; i < 2; i++) expect((await hangUp('alice'))['outcome']).toBe('cancelled');
  const res = await fetch(`${srv.url}/auth?service=registry`, {
    headers: { authorization: basic('alice', password) },
  });
  expect(res.status).toBe(429);
});
