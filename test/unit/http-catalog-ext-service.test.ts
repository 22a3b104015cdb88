import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { loadConfigFile } from '../../src/config/load.js';
import { closeRuntime, createRuntime } from '../../src/pipeline/runtime.js';
import { parseScopes } from '../../src/request/scope.js';
import { checkAccess } from '../../src/tools/check.js';
import { runPolicyTests } from '../../src/tools/policy-test.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The filtered catalog asks ext_authz about `registry:catalog:*` for the registry's service
 * (docs/catalog.md "What you see"). The token request its own challenge makes (the catalog's
 * service) is decided by the ACL alone: its access is never read, and a docker_auth-era program
 * that knows only the registry's service (exit 2, an error, for any other) must not turn every
 * /v2/_catalog client away with 503, nor be run twice per listing.
 */
const tmp = tempDir();
const pw = randomPassword();
const log = join(tmp.dir, 'stdin.log');
let registry: Server;
let srv: TestServer;

beforeAll(async () => {
  registry = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"repositories":["public/a","private/b"]}');
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  const script = join(tmp.dir, 'authz.sh');
  // Knows one service; anything else is an error (docker_auth: exit 2 = ExtAuthzError).
  writeFileSync(
    script,
    `#!/bin/sh\nin=$(cat)\nprintf '%s\\n' "$in" >> ${log}\n` +
      `case "$in" in *'"Service":"reg"'*) exit 0 ;; *) exit 2 ;; esac\n`,
  );
  chmodSync(script, 0o755);
  const port = (registry.address() as AddressInfo).port;
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      remember(`server:
  addr: "127.0.0.1:0"
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [reg]
users:
  alice: {password: "${hash(pw)}"}
ext_authz:
  command: ${script}
acl:
  - match: {name: "public/*"}
    actions: [pull]
catalog:
  registry_url: http://127.0.0.1:${port}
  realm: http://h/auth
`),
  });
});

/** The server's config, kept in a file for the tools. */
let configFile = '';
function remember(text: string): string {
  configFile = join(tmp.dir, 'config.yml');
  writeFileSync(configFile, text);
  return text;
}
afterAll(async () => {
  await new Promise((r) => registry.close(r));
  tmp.cleanup();
});

test('a /v2/_catalog client (challenge -> token -> listing) asks ext_authz once, for the registry service', async () => {
  writeFileSync(log, '');
  // 1. the challenge
  const first = await fetch(`${srv.url}/v2/_catalog`);
  expect(first.status).toBe(401);
  const challenge = first.headers.get('www-authenticate')!;
  const scope = /scope="([^"]+)"/.exec(challenge)![1]!;
  const service = /service="([^"]+)"/.exec(challenge)![1]!;
  // 2. the token, as docker/regctl ask for it
  const t = await fetch(`${srv.url}/auth?service=${service}&scope=${encodeURIComponent(scope)}`, {
    headers: { authorization: basic('alice', pw) },
  });
  expect(t.status).toBe(200);
  const token = ((await t.json()) as { token: string }).token;
  // 3. the listing: alice holds registry:catalog:* for "reg", she sees everything
  const c = await fetch(`${srv.url}/v2/_catalog`, { headers: { authorization: `Bearer ${token}` } });
  expect(await c.json()).toEqual({ repositories: ['private/b', 'public/a'] });
  const services = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { Service: string }).Service);
  expect(services).toEqual(['reg']);
});

test('check and test decide the catalog service as the token endpoint does: without ext_authz', async () => {
  writeFileSync(log, '');
  const runtime = createRuntime(loadConfigFile(configFile));
  try {
    const checked = await checkAccess(runtime, {
      account: 'alice',
      scopes: ['repository:private/b:pull'],
      service: 'regauth-catalog',
    });
    expect(checked.outcome === 'checked' && checked.scopes.map((r) => r.granted)).toEqual([[]]);
    const [tested] = await runPolicyTests(runtime, [
      {
        path: '[0]',
        line: undefined,
        account: 'alice',
        scope: parseScopes(['repository:private/b:pull'])[0]!,
        expect: [],
        labels: undefined,
        service: 'regauth-catalog',
        ip: null,
        comment: undefined,
      },
    ]);
    expect(tested!.granted).toEqual([]);
    expect(readFileSync(log, 'utf8')).toBe('');
  } finally {
    await closeRuntime(runtime);
  }
});
