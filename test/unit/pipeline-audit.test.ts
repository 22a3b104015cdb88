import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditRecord, recordTokenRequest } from '../../src/pipeline/audit.js';
import { createMetrics } from '../../src/pipeline/metrics.js';
import { createLogger } from '../../src/core/log.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { parseStrictJson } from '../helpers/strict-json.js';

const tmp = tempDir('regauth-audit-');
const password = randomPassword();
let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.test]}
users:
  alice: {password: "${hash(password)}"}
acl:
  - match: {account: alice, name: "alice/*"}
    actions: [pull, push]
`,
  });
});
afterAll(async () => {
  await s.server.close();
  tmp.cleanup();
});

/** Asks for a token and returns the audit line the request wrote, parsed strictly. */
async function audited(scope: string): Promise<{ status: number; line: Record<string, unknown> }> {
  const before = s.logs.length;
  const query = scope === '' ? '' : `&scope=${encodeURIComponent(scope)}`;
  const res = await fetch(`${s.url}/auth?service=registry.test${query}`, {
    headers: { authorization: basic('alice', password) },
  });
  await res.arrayBuffer();
  // The line is written once the answer is sent.
  for (let i = 0; i < 50 && s.logs.length === before; i++) await new Promise((r) => setTimeout(r, 10));
  const lines = s.logs.slice(before).filter((l) => l.includes('"requestId"'));
  expect(lines).toHaveLength(1);
  return { status: res.status, line: parseStrictJson(lines[0]!) as Record<string, unknown> };
}

/** alice's password request for `scopes` to registry.test, as the audit record reads it. */
function aliceAsks(scopes: readonly object[]): never {
  return {
    grant: 'password',
    service: 'registry.test',
    clientId: undefined,
    credentials: { account: 'alice', password: undefined },
    scopes,
    offline: false,
  } as never;
}

describe('the audit line', () => {
  test('has one key per name: the requested service is `service`, the program is `app`', async () => {
    const { status, line } = await audited('repository:alice/app:pull');
    expect(status).toBe(200);
    expect(line).toMatchObject({ app: 'regauth', service: 'registry.test', outcome: 'granted' });
  });

  test('a request where every scope is denied: outcome denied_all (still 200 with a token), findable by grep', async () => {
    const { status, line } = await audited('repository:bob/app:push');
    expect(status).toBe(200);
    expect(line).toMatchObject({
      outcome: 'denied_all',
      granted: [],
      requested: ['repository:bob/app:push'],
    });
    expect(line['msg']).toBe('token issued, every requested scope denied');
  });

  test('some scopes granted: outcome granted; no scopes asked (docker login): granted', async () => {
    const partly = await fetch(
      `${s.url}/auth?service=registry.test&scope=${encodeURIComponent('repository:alice/app:pull')}&scope=${encodeURIComponent('repository:bob/app:pull')}`,
      { headers: { authorization: basic('alice', password) } },
    );
    expect(partly.status).toBe(200);
    const { line } = await audited('');
    expect(line['outcome']).toBe('granted');
    const mixed = s.logs
      .map((l) => parseStrictJson(l) as Record<string, unknown>)
      .find((l) => (l['requested'] as string[] | undefined)?.includes('repository:bob/app:pull'));
    expect(mixed?.['outcome']).toBe('granted');
  });

  test('a scope ext_authz decided says so in its decision (replay tells it from a default deny)', () => {
    const scope = { type: 'repository', name: 'x/app', actions: ['pull'] };
    const record = auditRecord({
      requestId: 'r1',
      method: 'GET',
      ip: null,
      via: null,
      request: aliceAsks([scope]),
      result: {
        account: 'alice',
        authenticatedBy: 'users',
        access: [],
        decisions: [
          { scope, decision: { granted: [], rule: null, authorizer: 'ext_authz' } },
          { scope, decision: { granted: [], rule: null } },
        ],
      } as never,
      status: 200,
      ms: 1,
    });
    expect(record['decisions']).toEqual([
      { scope: 'repository:x/app:pull', granted: [], rule: null, authorizer: 'ext_authz' },
      { scope: 'repository:x/app:pull', granted: [], rule: null },
    ]);
  });

  test('with log.format pretty, the requested service is still shown', () => {
    let out = '';
    const logger = createLogger({
      format: 'pretty',
      destination: new Writable({
        write(chunk, _e, cb) {
          out += String(chunk);
          cb();
        },
      }),
    });
    logger.info(
      auditRecord({
        requestId: 'r1',
        method: 'GET',
        ip: null,
        via: null,
        request: aliceAsks([]),
        status: 401,
        ms: 1,
      }),
      'token refused',
    );
    expect(out).toContain('registry.test');
    expect(out).not.toMatch(/app: "?regauth/);
  });
});

describe('the denials metric', () => {
  // Found by a review: a scope ext_authz denied was counted as rule="none", as if no one had
  // decided it, so an alert on ACL misses also fired for the program's refusals.
  test('labels a scope ext_authz denied rule="ext_authz", one no rule matched rule="none"', async () => {
    const metrics = createMetrics();
    const logger = createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) });
    const scope = (name: string) => ({ type: 'repository', name, actions: ['pull'] });
    recordTokenRequest(logger, metrics, {
      requestId: 'r',
      method: 'GET',
      ip: null,
      via: null,
      status: 200,
      ms: 1,
      result: {
        token: 't',
        expiresIn: 300,
        issuedAt: '2026-12-05T00:00:00Z',
        account: 'alice',
        authenticatedBy: 'users',
        labels: {},
        access: [],
        scope: '',
        decisions: [
          { scope: scope('a'), decision: { granted: [], rule: null, authorizer: 'ext_authz' } },
          { scope: scope('b'), decision: { granted: [], rule: null } },
        ],
      },
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('regauth_authz_denials_total{rule="ext_authz",comment=""} 1');
    expect(text).toContain('regauth_authz_denials_total{rule="none",comment=""} 1');
  });
});
