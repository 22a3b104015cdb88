import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningServer } from '../../src/http/server.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

const tmp = tempDir();
const alicePassword = randomPassword();
let logLines: string[] = [];
let server: RunningServer;
let base: string;
const NOW = 1_800_000_000_000;

beforeAll(async () => {
  const started = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `server:\n  addr: "127.0.0.1:0"\n  path_prefix: /regauth\ntoken:\n  issuer: test-issuer\n  expiration: 600\n  key: ${keyPath}\n  certificate: ${certPath}\nusers:\n  alice:\n    password: "${hash(alicePassword)}"\n    labels: {group: [dev]}\n  "": {}\nacl:\n  - match: {account: alice, name: "alice/**"}\n    actions: ["*"]\n  - match: {account: "", name: "public/*"}\n    actions: [pull]\n  - match: {labels: {group: dev}, name: "team/*"}\n    actions: [pull]\n`,
    server: { now: () => NOW },
  });
  server = started.server;
  logLines = started.logs;
  base = `${server.url}/regauth`;
});
afterAll(async () => {
  await server.close(100);
  tmp.cleanup();
});

const get = (query: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/auth?${query}`, { headers });
const post = (body: string, contentType = 'application/x-www-form-urlencoded') =>
  fetch(`${base}/auth/token`, { method: 'POST', headers: { 'content-type': contentType }, body });

describe('GET token', () => {
  test('grants the intersection and signs the claims the registry checks', async () => {
    const res = await get('service=reg&scope=repository:alice/app:push,pull&scope=repository:bob/app:pull', {
      authorization: basic('alice', alicePassword),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'issued_at', 'token']);
    expect(body['token']).toBe(body['access_token']);
    expect(body['expires_in']).toBe(600);
    expect(body['issued_at']).toBe('2027-01-15T08:00:00Z');
    const claims = decodeJwt(body['token'] as string);
    expect(claims).toMatchObject({
      iss: 'test-issuer',
      sub: 'alice',
      aud: 'reg',
      iat: NOW / 1000,
      nbf: NOW / 1000,
      exp: NOW / 1000 + 600,
      access: [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }],
    });
    expect(typeof claims.jti).toBe('string');
    const header = decodeProtectedHeader(body['token'] as string);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    expect(header.kid).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    expect(header.x5c).toHaveLength(1);
  });

  test('labels reach the ACL', async () => {
    const res = await get('service=reg&scope=repository:team/x:push,pull', {
      authorization: basic('alice', alicePassword),
    });
    expect(decodeJwt(((await res.json()) as { token: string }).token).access).toEqual([
      { type: 'repository', name: 'team/x', actions: ['pull'] },
    ]);
  });

  test('anonymous pull of a public repository; nothing of a private one', async () => {
    const res = await get('service=reg&scope=repository:public/a:pull,push&scope=repository:alice/app:pull');
    expect(res.status).toBe(200);
    const claims = decodeJwt(((await res.json()) as { token: string }).token);
    expect(claims.sub).toBe('');
    expect(claims.access).toEqual([{ type: 'repository', name: 'public/a', actions: ['pull'] }]);
  });

  test('login without scope (docker login) gets a token with empty access', async () => {
    const res = await get('account=alice&client_id=docker&offline_token=true&service=reg', {
      authorization: basic('alice', alicePassword),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body['refresh_token']).toBeUndefined();
    expect(decodeJwt(body['token'] as string).access).toEqual([]);
  });

  test.each([
    ['wrong password', basic('alice', 'wrong')],
    ['unknown user', basic('mallory', 'x')],
    ['empty password', basic('alice', '')],
  ])('%s → 401 with a Basic challenge and errcode JSON', async (_what, authorization) => {
    const res = await get('service=reg', { authorization });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="test-issuer"');
    expect(await res.json()).toEqual({
      errors: [{ code: 'UNAUTHORIZED', message: 'authentication failed' }],
    });
  });

  test.each([
    ['scope=repository:Bad:pull', 'invalid repository name "Bad"'],
    ['scope=nonsense', 'malformed scope "nonsense"; expected type:name:actions'],
    ['account=bob', 'account parameter does not match the Basic credentials'],
    ['service=a&service=b', 'parameter service given more than once'],
  ])('%s → 400', async (query, message) => {
    const res = await get(query, { authorization: basic('alice', alicePassword) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ errors: [{ code: 'BAD_REQUEST', message }] });
  });

  test.each(['Bearer xyz', 'Basic ***', 'Basic', 'Digest a=b', 'x'.repeat(5000)])(
    'junk Authorization %s → 400 JSON',
    async (authorization) => {
      const res = await get('service=reg', { authorization });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    },
  );
});

describe('POST token', () => {
  test('password grant returns access_token and scope', async () => {
    const res = await post(
      `grant_type=password&username=alice&password=${encodeURIComponent(alicePassword)}&service=reg&client_id=containerd-client&scope=repository:alice/app:pull&scope=repository:public/x:push`,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body['scope']).toBe('repository:alice/app:pull');
    expect(body['access_token']).toBe(body['token']);
    expect(decodeJwt(body['access_token'] as string).aud).toBe('reg');
  });

  test.each([
    ['grant_type=password&username=alice&password=bad&service=reg', 401, 'invalid_grant'],
    ['grant_type=client_credentials&service=reg', 400, 'unsupported_grant_type'],
    ['grant_type=authorization_code&code=x&service=reg', 400, 'unsupported_grant_type'],
    ['grant_type=refresh_token&refresh_token=x&service=reg', 401, 'invalid_grant'],
    ['grant_type=refresh_token&service=reg', 400, 'invalid_request'],
    ['grant_type=password&service=reg', 400, 'invalid_request'],
    ['service=reg', 400, 'invalid_request'],
    ['grant_type=password&username=alice&password=x&scope=%%%', 400, 'invalid_scope'],
  ])('%s → %i %s', async (body, status, error) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toBe(error);
  });

  test('a JSON body is 400 invalid_request', async () => {
    const res = await post(JSON.stringify({ grant_type: 'password' }), 'application/json');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: 'invalid_request',
      error_description: 'POST body must be application/x-www-form-urlencoded',
    });
  });

  test('an unknown charset or Content-Encoding is 415 invalid_request', async () => {
    const form = 'grant_type=password&username=alice&password=x';
    const charset = await post(form, 'application/x-www-form-urlencoded; charset=bogus');
    const encoding = await fetch(`${base}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'foo' },
      body: form,
    });
    for (const [res, what] of [
      [charset, 'charset'],
      [encoding, 'Content-Encoding'],
    ] as const) {
      expect(res.status).toBe(415);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await res.json()).toEqual({
        error: 'invalid_request',
        error_description: expect.stringContaining(`the body's ${what} is not one regauth decodes`),
      });
    }
  });

  test('a 3 MB body is 413 JSON, and the server keeps serving', async () => {
    const res = await post(`grant_type=password&username=${'a'.repeat(3 * 1024 * 1024)}`);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('reply headers', () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  test.each([
    [
      'GET granted',
      () =>
        get('service=reg&scope=repository:alice/app:pull', { authorization: basic('alice', alicePassword) }),
      200,
    ],
    ['GET refused', () => get('service=reg', { authorization: basic('alice', 'wrong') }), 401],
    [
      'POST granted',
      () =>
        post(`grant_type=password&username=alice&password=${encodeURIComponent(alicePassword)}&service=reg`),
      200,
    ],
    ['POST refused', () => post('grant_type=nonsense&service=reg'), 400],
  ] as const)(
    '%s: JSON, never cached, with a request id and an exact length',
    async (_name, send, status) => {
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
      expect(res.headers.get('x-request-id')).toMatch(UUID);
      const text = await res.text();
      expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
      expect(() => JSON.parse(text) as unknown).not.toThrow();
    },
  );
});

describe('other endpoints', () => {
  test('405 JSON with Allow for other methods', async () => {
    const res = await fetch(`${base}/auth`, { method: 'PUT' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST');
    expect(await res.json()).toEqual({ errors: [{ code: 'UNSUPPORTED', message: 'method not allowed' }] });
  });
  test('unknown paths (the token path without the prefix, the prefix in another case) are JSON 404', async () => {
    for (const path of [
      '/regauth/nope',
      '/auth',
      '/REGAUTH/healthz',
      '/Regauth/.well-known/jwks.json',
      '/REGAUTH/auth?service=reg',
      '/regauth/AUTH?service=reg',
      '/regauth/Healthz',
    ]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    }
  });
  test('JWKS publishes the signing key', async () => {
    const res = await fetch(`${base}/.well-known/jwks.json`);
    const body = (await res.json()) as { keys: { kty: string; d?: string }[] };
    expect(body.keys.length).toBeGreaterThan(0);
    expect(body.keys.every((k) => k.kty === 'EC' && k.d === undefined)).toBe(true);
  });
});

test('no password or token ever reaches the log', () => {
  const all = logLines.join('');
  expect(all).toContain('token issued');
  expect(all).not.toContain(alicePassword);
  expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
});

test('anonymous gets nothing from a `${account}*` rule (its empty account must not become `*`)', async () => {
  const dir = tempDir();
  const started = await startTestServer({
    dir: dir.dir,
    config: ({ keyPath, certPath }) =>
      `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nusers:\n  alice: {password: "${hash(alicePassword)}"}\n  "": {}\nacl:\n  - match: {name: "\${account}*"}\n    actions: [pull, push]\n`,
  });
  try {
    const ask = (headers: Record<string, string>) =>
      fetch(`${started.url}/auth?service=s&scope=repository:alice-secret:pull,push`, { headers });
    const anonymous = await ask({});
    expect(anonymous.status).toBe(200);
    expect(decodeJwt(((await anonymous.json()) as { token: string }).token)['access']).toEqual([]);
    const alice = await ask({ authorization: basic('alice', alicePassword) });
    expect(decodeJwt(((await alice.json()) as { token: string }).token)['access']).toEqual([
      { type: 'repository', name: 'alice-secret', actions: ['pull', 'push'] },
    ]);
  } finally {
    await started.server.close(100);
    dir.cleanup();
  }
});
