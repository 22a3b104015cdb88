import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { basic, hash, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review of the audit line's documentation. docs/operations.md "The fields, each once": "Every
 * token request writes one JSON line ... Each key appears once:" followed by a table that is
 * meant to name every key (`app` included). A docker login with refresh tokens on writes
 * `grant`, `clientId` and `refreshToken`, which the table does not name, so a reader building a
 * parser or a log-shipper schema from the table drops them (pino's own `level`, `time`, `msg`
 * left aside here).
 */
const tmp = tempDir();
const password = 'alice-pw-123';
let s: TestServer;
beforeAll(async () => {
  const secretFile = join(tmp.dir, 'refresh.key');
  writeFileSync(secretFile, 'x'.repeat(48));
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  refresh:
    secret_file: ${secretFile}
users:
  alice: {password: "${hash(password)}"}
acl: [{match: {}, actions: [pull]}]
`,
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

/** The keys the table under "The fields, each once" names (`client.ip` as `client`). */
function documentedKeys(): Set<string> {
  const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### The fields, each once'), doc.indexOf('#### Outcomes'));
  const keys = new Set<string>();
  for (const row of section.split('\n').filter((l) => l.startsWith('| `'))) {
    for (const m of row.split('|')[1]!.matchAll(/`([^`]+)`/g)) keys.add(m[1]!.split('.')[0]!);
  }
  return keys;
}

test('every key of a docker login audit line is in the documented table of fields', async () => {
  const res = await fetch(`${s.url}/auth?service=registry&client_id=docker&offline_token=true`, {
    headers: { authorization: basic('alice', password) },
  });
  const body = (await res.json()) as { refresh_token?: string };
  expect(body.refresh_token).toBeDefined();
  const line = JSON.parse(s.logs.find((l) => l.includes('"msg":"token issued"'))!) as Record<string, unknown>;
  const documented = documentedKeys();
  const missing = Object.keys(line).filter(
    (k) => !['level', 'time', 'msg'].includes(k) && !documented.has(k),
  );
  expect(missing).toEqual([]);
});
