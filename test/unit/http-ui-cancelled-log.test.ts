import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { CommandFailure, type RunRequest } from '../../src/ext/command.js';
import { createMetrics } from '../../src/pipeline/metrics.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review of 9aded34 (registry page logins write the token endpoint's audit line) and
 * 35ae342: a page whose client hung up during its ext_auth run wrote its `cancelled` audit line at
 * info level, but the page's own error handler still logged `ui failed` at error level. And the
 * page's audit line had a requestId the page never sent (X-Request-Id, as /auth does) nor logged
 * in its own line, so the two could not be joined. Also checked: one audit line per page view.
 */
const tmp = tempDir('regauth-ui-cancelled-');
const metrics = createMetrics();
const alicePassword = randomPassword();
const hung: RunRequest[] = [];
let registry: Server;
let srv: TestServer;

beforeAll(async () => {
  registry = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url?.includes('/tags/list')) res.end('{"name":"public/a","tags":["1"]}');
    else res.end('{"repositories":["public/a"]}');
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  const port = (registry.address() as AddressInfo).port;
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [reg]}
users:
  alice: {password: "${hash(alicePassword)}"}
ext_auth: {command: /bin/true, timeout: 30}
acl:
  - match: {name: "public/*"}
    actions: [pull]
catalog:
  registry_url: http://127.0.0.1:${port}
  realm: http://127.0.0.1/auth
`,
    runtimeDeps: {
      // `hang …` never answers (until its signal aborts, as spawnRunner); anything else: no match.
      runCommand: (req) => {
        if (!req.stdin.startsWith('hang ')) {
          return Promise.resolve({ code: 2, signal: null, stdout: '', stderr: '' });
        }
        hung.push(req);
        return new Promise((_resolve, reject) => {
          req.signal?.addEventListener('abort', () => reject(new CommandFailure('cancelled')), {
            once: true,
          });
        });
      },
    },
    server: { metrics },
  });
});
afterAll(async () => {
  await srv.server.close(100);
  await new Promise((r) => registry.close(r));
  tmp.cleanup();
});

const lines = () => srv.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
const audit = () => lines().filter((l) => l['outcome'] !== undefined);

test("a page login's audit line can be found from the page: its requestId is the X-Request-Id the page answers with (as /auth's)", async () => {
  const seen = audit().length;
  const res = await fetch(`${srv.url}/ui/`, { headers: { authorization: basic('alice', 'wrong-pw') } });
  await res.arrayBuffer();
  expect(res.status).toBe(401);
  const line = audit().slice(seen);
  expect(line).toHaveLength(1);
  // docs/operations.md: "`requestId` (also the `X-Request-Id` response header)".
  expect(res.headers.get('x-request-id')).toBe(line[0]!['requestId']);
  // And the page's own line names it too.
  expect(
    lines().find((l) => l['msg'] === 'registry page' && l['requestId'] === line[0]!['requestId']),
  ).toBeDefined();
});

test('one audit line per page view (list, repository, tag)', async () => {
  for (const path of ['/ui/', '/ui/repository?name=public/a', '/ui/tag?name=public/a&tag=1']) {
    const seen = audit().length;
    const res = await fetch(`${srv.url}${path}`, {
      headers: { authorization: basic('alice', alicePassword) },
    });
    await res.arrayBuffer();
    expect({ path, lines: audit().length - seen }).toEqual({ path, lines: 1 });
  }
});

test('a page whose client hung up during its ext_auth run writes no error-level line (cancelled is logged at info level)', async () => {
  const seen = lines().length;
  const url = new URL(`${srv.url}/ui/`);
  const req = request({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    headers: { authorization: basic('hang', randomPassword()) },
  });
  req.on('error', () => undefined);
  req.end();
  await vi.waitFor(() => expect(hung).toHaveLength(1), { timeout: 10_000 });
  req.destroy();
  await vi.waitFor(
    () =>
      expect(
        lines()
          .slice(seen)
          .some((l) => l['msg'] === 'registry page'),
      ).toBe(true),
    {
      timeout: 10_000,
    },
  );
  const written = lines().slice(seen);
  expect(written.find((l) => l['outcome'] !== undefined)?.['outcome']).toBe('cancelled');
  expect(written.filter((l) => (l['level'] as number) >= 50).map((l) => l['msg'])).toEqual([]);
});
