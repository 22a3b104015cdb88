/**
 * Found by a review: with `token.refresh` and `catalog:` both set, a client whose stored
 * credential is the identity token `docker login` obtained (docker then forgets the password)
 * could not read the filtered catalog. docs/catalog.md promises that curl, crane catalog, regctl
 * and oras need no change; those clients follow the catalog's challenge (its own service) and
 * trade the identity token for it (POST grant_type=refresh_token&service=regauth-catalog, as
 * go-containerregistry does), and regauth refused a refresh token issued for the registry's
 * service: 401 invalid_grant. A refresh token for the registry whose catalog this is now also
 * serves the catalog's service; nothing else is widened.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir();
const password = randomPassword();
let srv: TestServer;
let registry: Server;

beforeAll(async () => {
  // A registry holding two repositories; regauth reads its catalog with its own token.
  registry = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url?.startsWith('/v2/_catalog')) {
      res.end(JSON.stringify({ repositories: ['alice/app', 'bob/app'] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  const registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
  const secretFile = join(tmp.dir, 'refresh.key');
  writeFileSync(secretFile, randomBytes(48).toString('base64'));
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      [
        'server: {addr: "127.0.0.1:0"}',
        'token:',
        '  issuer: t',
        `  key: ${keyPath}`,
        `  certificate: ${certPath}`,
        '  services: [registry.example.com, other.example.com]',
        '  refresh:',
        `    secret_file: ${secretFile}`,
        'users:',
        `  alice: {password: "${hash(password)}"}`,
        'acl:',
        '  - match: {account: "/.+/", name: "${account}/**"}',
        '    actions: ["*"]',
        'catalog:',
        `  registry_url: ${registryUrl}`,
        '  registry_service: registry.example.com',
        '  realm: https://registry.example.com/auth',
      ].join('\n') + '\n',
  });
});
afterAll(async () => {
  await srv.server.close(100);
  await new Promise((r) => registry.close(r));
  tmp.cleanup();
});

test('an identity token from docker login reads the filtered catalog, as crane catalog would', async () => {
  // docker login: the registry's challenge names the registry's service; offline_token=true.
  const login = await fetch(
    `${srv.url}/auth?service=registry.example.com&client_id=docker&offline_token=true`,
    { headers: { authorization: basic('alice', password) } },
  );
  expect(login.status).toBe(200);
  const identityToken = ((await login.json()) as { refresh_token?: string }).refresh_token;
  expect(typeof identityToken).toBe('string');

  // The client (docker forgot the password) asks for the catalog and follows its challenge.
  const challenge = await fetch(`${srv.url}/v2/_catalog`);
  expect(challenge.status).toBe(401);
  const header = challenge.headers.get('www-authenticate') ?? '';
  const service = /service="([^"]+)"/.exec(header)?.[1];
  const scope = /scope="([^"]+)"/.exec(header)?.[1];
  expect(service).toBe('regauth-catalog');

  // What go-containerregistry (crane catalog) sends with an identity token.
  const refreshed = await fetch(`${srv.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: identityToken!,
      service: service!,
      scope: scope!,
      client_id: 'go-containerregistry',
    }).toString(),
  });
  const body = (await refreshed.json()) as Record<string, unknown>;
  expect({ status: refreshed.status, error: body['error_description'] }).toEqual({
    status: 200,
    error: undefined,
  });

  const listed = await fetch(`${srv.url}/v2/_catalog`, {
    headers: { authorization: `Bearer ${String(body['access_token'])}` },
  });
  expect(listed.status).toBe(200);
  expect(await listed.json()).toEqual({ repositories: ['alice/app'] });
});

/** The refresh token of a docker login to `service`. */
async function identityTokenFor(service: string): Promise<string> {
  const login = await fetch(`${srv.url}/auth?service=${service}&client_id=docker&offline_token=true`, {
    headers: { authorization: basic('alice', password) },
  });
  expect(login.status).toBe(200);
  return ((await login.json()) as { refresh_token: string }).refresh_token;
}

async function refreshFor(
  token: string,
  service: string,
  scope: string,
): Promise<{ status: number; error: unknown }> {
  const res = await fetch(`${srv.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: token,
      service,
      scope,
    }).toString(),
  });
  return { status: res.status, error: ((await res.json()) as Record<string, unknown>)['error_description'] };
}

test("a refresh token for another of token.services does not serve the catalog, nor the catalog's one the registry", async () => {
  const other = await identityTokenFor('other.example.com');
  expect(await refreshFor(other, 'regauth-catalog', 'registry:catalog:*')).toEqual({
    status: 401,
    error: 'refresh token issued for another service',
  });
  const catalogs = await identityTokenFor('regauth-catalog');
  expect(await refreshFor(catalogs, 'registry.example.com', 'repository:alice/app:pull')).toEqual({
    status: 401,
    error: 'refresh token issued for another service',
  });
  // Each still serves its own service.
  expect((await refreshFor(other, 'other.example.com', 'repository:alice/app:pull')).status).toBe(200);
  expect((await refreshFor(catalogs, 'regauth-catalog', 'registry:catalog:*')).status).toBe(200);
});
