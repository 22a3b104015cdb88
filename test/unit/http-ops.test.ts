import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import type { Authenticator } from '../../src/authn/types.js';
import type { RunningServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/pipeline/metrics.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

const tmp = tempDir();
const password = randomPassword();
let runtime: Runtime;
let server: RunningServer;
let logs: string[];
let directoryUp = true;

beforeAll(async () => {
  // A backend with a readiness check, standing in for a directory that can go down.
  const directory: Authenticator = {
    name: 'ldap_auth',
    authenticate: () => Promise.resolve({ outcome: 'no_match' }),
    check: () =>
      directoryUp ? Promise.resolve() : Promise.reject(new Error('ldap://dir:389: connection refused')),
  };
  const started = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nlockout: {max_failures: 2, backoff: 30}\nusers:\n  alice: {password: "${hash(password)}"}\nacl: [{match: {}, actions: [pull]}]\n`,
    runtime: (base) => ({ ...base, authenticators: [...base.authenticators, directory] }),
    server: {
      metrics: createMetrics(),
      lockout: new Lockout({ maxEntries: 100, policy: () => runtime.config.lockout }),
    },
  });
  runtime = started.runtime;
  server = started.server;
  logs = started.logs;
});
afterAll(async () => {
  await server.close(100);
  tmp.cleanup();
});

describe('/readyz', () => {
  test('503 while the directory is down, 200 once it is back; the public answer gives no reason', async () => {
    directoryUp = false;
    const down = await fetch(`${server.url}/readyz`);
    expect(down.status).toBe(503);
    // The reason (the directory's internal address) is for the log and the metrics listener only.
    expect(await down.json()).toEqual({ status: 'not ready' });
    const said = logs.filter((l) => l.includes('not ready'));
    expect(said).toHaveLength(1);
    expect(JSON.parse(said[0]!).checks).toEqual({
      config: 'ok',
      signing_key: 'ok',
      ldap_auth: 'ldap://dir:389: connection refused',
    });
    // Probes come every few seconds: the same reasons are logged once, not per probe.
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    expect(logs.filter((l) => l.includes('not ready'))).toHaveLength(1);
    directoryUp = true;
    const up = await fetch(`${server.url}/readyz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: 'ready' });
    expect(logs.filter((l) => l.includes('ready again'))).toHaveLength(1);
  });
});

describe('lockout over HTTP', () => {
  test('POST: 401 twice, then 429 slow_down with Retry-After, even with the right password', async () => {
    const form = (pw: string) =>
      fetch(`${server.url}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'password',
          username: 'alice',
          password: pw,
          service: 's',
        }).toString(),
      });
    expect((await form('wrong')).status).toBe(401);
    expect((await form('wrong')).status).toBe(401);
    const locked = await form(password);
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('30');
    expect(await locked.json()).toEqual({
      error: 'slow_down',
      error_description: 'too many failed attempts, retry later',
    });
    // GET uses docker's error shape for the same lock.
    const get = await fetch(`${server.url}/auth?service=s`, {
      headers: { authorization: basic('alice', password) },
    });
    expect(get.status).toBe(429);
    expect(await get.json()).toEqual({
      errors: [{ code: 'TOOMANYREQUESTS', message: 'too many failed attempts, retry later' }],
    });
  });
});

describe('/metrics on the token listener', () => {
  test('Prometheus text with the token counters', async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('regauth_token_requests_total{outcome="locked",grant_type="password"} 2');
    expect(text).toContain('regauth_lockouts_total 1');
  });
});
