import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
import { hash, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

// docs/http-api.md "The reply": "Replies, successful or not, carry Cache-Control: no-store and an
// X-Request-Id that the audit line repeats"; docs/operations.md "Audit log": "One line per token
// request". A token POST refused while its body was read (413, 415) got neither, and was not
// counted in the metrics: a flood of them left no trace. Found by a review.
const tmp = tempDir();
let server: RunningServer;
let logs: string[];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

beforeAll(async () => {
  const started = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `server:\n  addr: "127.0.0.1:0"\ntoken:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\nusers:\n  alice:\n    password: "${hash('pw')}"\nacl: []\n`,
  });
  server = started.server;
  logs = started.logs;
});
afterAll(async () => {
  await server.close(100);
  tmp.cleanup();
});

test.each([
  [
    '413 body too large',
    { 'content-type': 'application/x-www-form-urlencoded' },
    'a='.padEnd(70_000, 'x'),
    413,
  ],
  [
    '415 unknown charset',
    { 'content-type': 'application/x-www-form-urlencoded; charset=bogus' },
    'grant_type=password&username=alice&password=pw',
    415,
  ],
  [
    '415 unknown content-encoding',
    { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'zstd' },
    'grant_type=password&username=alice&password=pw',
    415,
  ],
] as const)(
  '%s: a token POST reply carries X-Request-Id, no-cache, and writes its audit line',
  async (_n, headers, body, status) => {
    const before = logs.length;
    const res = await fetch(`${server.url}/auth`, { method: 'POST', headers, body });
    expect(res.status).toBe(status);
    await res.text();
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(UUID);
    await new Promise((r) => setTimeout(r, 50));
    const audit = logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.some((l) => l['requestId'] === id && l['status'] === status)).toBe(true);
  },
);
