import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
import { basic, hash, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

// token.issuer is free text (the registry compares it byte for byte); it is also the Basic realm
// of every 401. A character outside Latin-1 (an en dash, Cyrillic, CJK) made node's setHeader
// throw: the 401 became a 500, and the failed login left no audit line.
const tmp = tempDir();
let server: RunningServer;
let logs: string[];
beforeAll(async () => {
  const started = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `server:\n  addr: "127.0.0.1:0"\ntoken:\n  issuer: "regauth – prod"\n  key: ${keyPath}\n  certificate: ${certPath}\nusers:\n  alice:\n    password: "${hash('right')}"\nacl: []\n`,
  });
  server = started.server;
  logs = started.logs;
});
afterAll(async () => {
  await server.close(100);
  tmp.cleanup();
});

test('GET with a wrong password is a 401 with a usable challenge, and is audited', async () => {
  const res = await fetch(`${server.url}/auth?service=reg`, {
    headers: { authorization: basic('alice', 'wrong') },
  });
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe('Basic realm="regauth ? prod"');
  const audit = logs
    .map((l) => JSON.parse(l) as { msg?: string; status?: number })
    .filter((l) => l.status === 401);
  expect(audit).toHaveLength(1);
});

test('POST with a wrong password is a 401 invalid_grant', async () => {
  const res = await fetch(`${server.url}/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=alice&password=wrong&service=reg',
  });
  expect(res.status).toBe(401);
  expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
});
