import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Authenticator } from '../../src/authn/types.js';
import { Lockout } from '../../src/guard/lockout.js';
import { createMetrics, instrumentAuthenticator, type Metrics } from '../../src/pipeline/metrics.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { peopleDirectory } from '../helpers/fake-ldap.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { authnObserved } from '../helpers/metrics.js';

// A login the credential cache holds is answered by the cached path (src/pipeline/pipeline.ts
// issueTokenNow, src/guard/lockout.ts withLockoutNow): no backend is asked, and no promise is made
// per stage. Its answer, audit line, metrics and lockout must be the full path's.

const MAX_FAILURES = 3;
const password = randomPassword();

/** Each backend with its `authenticate` calls counted; everything else as it is. */
function counting(asked: { n: number }) {
  return (a: Authenticator): Authenticator =>
    new Proxy(a, {
      get(target, prop) {
        if (prop === 'authenticate') {
          return (c: Parameters<Authenticator['authenticate']>[0]) => {
            asked.n++;
            return target.authenticate(c);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
}

/** GET /auth as `client` (the test server trusts 127.0.0.1's X-Forwarded-For). */
async function token(s: TestServer, account: string, pw: string, client: string, query = '') {
  const res = await fetch(`${s.url}/auth?service=registry${query}`, {
    headers: { authorization: basic(account, pw), 'x-forwarded-for': client },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The audit lines of token requests so far, without what differs per request. */
function auditLines(s: TestServer): Record<string, unknown>[] {
  return s.logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['requestId'] !== undefined)
    .map(({ requestId: _r, ms: _m, time: _t, ...rest }) => rest);
}

const authnCount = (metrics: Metrics, backend: string) => authnObserved(metrics, backend, 'authenticated');

describe('static users', () => {
  const tmp = tempDir();
  const asked = { n: 0 };
  const metrics = createMetrics();
  let s: TestServer;
  let runtime: Runtime;
  beforeAll(async () => {
    writeFileSync(join(tmp.dir, 'refresh.key'), randomBytes(48).toString('base64'));
    s = await startTestServer({
      dir: tmp.dir,
      config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  refresh: {secret_file: refresh.key}
lockout: {max_failures: ${MAX_FAILURES}, backoff: 60}
users:
  alice: {password: "${hash(password)}", labels: {team: [core]}}
acl:
  - match: {account: alice, name: "alice/*"}
    actions: [pull, push]
  - match: {labels: {team: core}, name: "core/*"}
    actions: [pull]
`,
      runtimeDeps: { instrument: (a) => instrumentAuthenticator(a, metrics) },
      runtime: (loaded) =>
        (runtime = { ...loaded, authenticators: loaded.authenticators.map(counting(asked)) }),
      server: { lockout: new Lockout({ maxEntries: 1000, policy: () => runtime.config.lockout }), metrics },
    });
  });
  afterAll(async () => {
    await s.server.close();
    tmp.cleanup();
  });

  test('is answered without asking a backend, as the full path answers it', async () => {
    const scopes =
      '&scope=repository:alice/app:pull,push&scope=repository:core/base:pull,push&scope=repository:bob/x:pull';
    const first = await token(s, 'alice', password, '10.0.0.1', scopes);
    expect(first.status).toBe(200);
    expect(asked.n).toBe(1);
    const second = await token(s, 'alice', password, '10.0.0.1', scopes);
    expect(second.status).toBe(200);
    // The cache answered: no backend was asked again.
    expect(asked.n).toBe(1);

    const claims = (body: Record<string, unknown>) => {
      const { jti: _j, iat: _i, nbf: _n, exp: _e, ...rest } = decodeJwt(String(body['token']));
      return rest;
    };
    expect(claims(second.body)).toEqual(claims(first.body));
    expect(claims(second.body)['access']).toEqual([
      { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'core/base', actions: ['pull'] },
    ]);
    expect(decodeProtectedHeader(String(second.body['token']))).toEqual(
      decodeProtectedHeader(String(first.body['token'])),
    );
    expect(Object.keys(second.body).sort()).toEqual(Object.keys(first.body).sort());
    const [a, b] = auditLines(s).slice(-2);
    expect(b).toEqual(a);
    expect(b).toMatchObject({ outcome: 'granted', account: 'alice', authenticator: 'users' });
    // Metrics count the cached login as the full path counts a cache hit.
    expect(await authnCount(metrics, 'users')).toBe(2);
  });

  test('a locked pair is refused (429) all the same', async () => {
    expect((await token(s, 'alice', password, '10.0.1.1')).status).toBe(200);
    for (let i = 0; i < MAX_FAILURES; i++) {
      expect((await token(s, 'alice', 'wrong', '10.0.1.1')).status).toBe(401);
    }
    const locked = await token(s, 'alice', password, '10.0.1.1');
    expect(locked.status).toBe(429);
    // Another client is not held back. The cache answers it once it has logged in from there:
    // its first password is checked in full (Credentials.uncached).
    const before = asked.n;
    expect((await token(s, 'alice', password, '10.0.1.2')).status).toBe(200);
    expect(asked.n).toBe(before + 1);
    expect((await token(s, 'alice', password, '10.0.1.2')).status).toBe(200);
    expect(asked.n).toBe(before + 1);
  });

  test("a cached login's success forgets the pair's failures", async () => {
    expect((await token(s, 'alice', password, '10.0.2.1')).status).toBe(200);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < MAX_FAILURES - 1; i++) {
        expect((await token(s, 'alice', 'wrong', '10.0.2.1')).status).toBe(401);
      }
      expect((await token(s, 'alice', password, '10.0.2.1')).status).toBe(200);
    }
  });

  test('a login asking for a refresh token still gets one', async () => {
    expect((await token(s, 'alice', password, '10.0.3.1')).status).toBe(200);
    const offline = await token(s, 'alice', password, '10.0.3.1', '&offline_token=true&client_id=docker');
    expect(offline.status).toBe(200);
    expect(typeof offline.body['refresh_token']).toBe('string');
  });
});

describe('a directory that stores the account under another name', () => {
  const tmp = tempDir();
  let s: TestServer;
  beforeAll(async () => {
    const { directory, section } = peopleDirectory(tmp.dir, [
      { uid: 'alice', mail: 'alice@example.org', password },
    ]);
    let runtime: Runtime | undefined;
    s = await startTestServer({
      dir: tmp.dir,
      config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
lockout: {max_failures: ${MAX_FAILURES}, backoff: 60}
${section}acl: [{match: {account: alice}, actions: [pull]}]
`,
      runtimeDeps: { ldapClient: directory.factory },
      runtime: (loaded) => (runtime = loaded),
      server: { lockout: new Lockout({ maxEntries: 1000, policy: () => runtime!.config.lockout }) },
    });
  });
  afterAll(async () => {
    await s.server.close();
    tmp.cleanup();
  });

  test('a cached login under the other name is refused (429) while the stored one is locked', async () => {
    expect((await token(s, 'alice@example.org', password, '10.0.4.1')).status).toBe(200);
    for (let i = 0; i < MAX_FAILURES; i++) {
      expect((await token(s, 'alice', 'wrong', '10.0.4.1')).status).toBe(401);
    }
    expect((await token(s, 'alice', password, '10.0.4.1')).status).toBe(429);
    expect((await token(s, 'alice@example.org', password, '10.0.4.1')).status).toBe(429);
    // From elsewhere, the cached login is answered.
    const elsewhere = await token(s, 'alice@example.org', password, '10.0.4.2');
    expect(elsewhere.status).toBe(200);
    expect(decodeJwt(String(elsewhere.body['token'])).sub).toBe('alice');
  });
});
