import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review. docs/cli.md "`regauth check`": "runs the server's authorizers (`acl`, then `ext_authz` …) for
 * each `--scope`", one request's scopes (`--scope S…`). The token endpoint refuses (400, nothing
 * granted) a request with more scopes needing ext_authz than `ext_authz.max_calls_per_request`
 * (docs/backends/ext.md); `check` asks ext_authz per scope without that bound and reports grants
 * the server never gives, exit 0.
 */
const tmp = tempDir('regauth-check-extcalls-');
const authz = resolve('test/fixtures/ext/authz.sh');
let srv: TestServer;
let configFile = '';
const scopes = ['repository:common/a:pull', 'repository:common/b:pull'];

beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: (
      k,
    ) => `token: {issuer: acme, key: ${k.keyPath}, certificate: ${k.certPath}, services: [registry.test]}
users:
  "": {}
ext_authz:
  command: ${authz}
  max_calls_per_request: 1
acl: []
`,
  });
  configFile = join(tmp.dir, 'config.yml');
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

test('the server refuses the two-scope request (sanity)', async () => {
  const q = new URLSearchParams([
    ['service', 'registry.test'],
    ...scopes.map((s): [string, string] => ['scope', s]),
  ]);
  const res = await fetch(`${srv.url}/auth?${q.toString()}`);
  await res.arrayBuffer();
  expect(res.status).toBe(400);
});

test('check, for the same request, does not report grants the server refuses', async () => {
  const run = await regauth([
    'check',
    '-c',
    configFile,
    '--account',
    '',
    ...scopes.flatMap((s) => ['--scope', s]),
    '--json',
  ]);
  const granted = run.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .flatMap((l) => (JSON.parse(l) as { granted: string[] }).granted);
  // An error like the server's (exit 2), naming the bound; never pull on both.
  expect(granted).toEqual([]);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('at most 1 per request');
});

test('check of one scope at a time still asks ext_authz', async () => {
  const run = await regauth(['check', '-c', configFile, '--account', '', '--scope', scopes[0]!, '--json']);
  expect(run.code, run.stderr).toBe(0);
});
