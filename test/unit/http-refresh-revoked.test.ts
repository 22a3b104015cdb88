/**
 * docs/http-api.md "Errors": a refresh token refused is told as tampered, expired, revoked or for
 * another service. The 401 for a revoked one gave the internal reason ("credential changed",
 * "account removed", "moved to another authenticator"): whoever held a stolen token learned
 * whether its owner changed the password or was removed. The audit line keeps the reason. Found
 * by a review.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir();
const password = randomPassword();
const servers: TestServer[] = [];
let secretFile = '';

/** A server sharing one refresh secret; `alice` is the users entry for alice ('' = none). */
async function serve(alice: string): Promise<TestServer> {
  const s = await startTestServer({
    dir: tmp.dir,
    file: `config-${servers.length}.yml`,
    config: ({ keyPath, certPath }) =>
      `server: {addr: "127.0.0.1:0"}\ntoken:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n  refresh:\n    secret_file: ${secretFile}\nusers:\n${alice}  bob:\n    password: "${hash('bob-pw-123')}"\nacl: [{match: {}, actions: [pull]}]\n`,
  });
  servers.push(s);
  return s;
}

beforeAll(() => {
  secretFile = join(tmp.dir, 'refresh.key');
  writeFileSync(secretFile, randomBytes(48).toString('base64'));
});
afterAll(async () => {
  for (const s of servers) await s.server.close(100);
  tmp.cleanup();
});

async function refresh(
  url: string,
  token: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=refresh_token&service=reg&client_id=docker&refresh_token=${encodeURIComponent(token)}`,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('a revoked refresh token gets one 401 answer: the client is not told whether the password changed or the account was removed', async () => {
  const original = await serve(`  alice:\n    password: "${hash(password)}"\n`);
  const login = await fetch(`${original.url}/auth?service=reg&offline_token=true&client_id=docker`, {
    headers: { authorization: basic('alice', password) },
  });
  const token = ((await login.json()) as { refresh_token: string }).refresh_token;
  expect(typeof token).toBe('string');

  const passwordChanged = await serve(`  alice:\n    password: "${hash('a-new-password-1')}"\n`);
  const accountRemoved = await serve('');
  const changed = await refresh(passwordChanged.url, token);
  const removed = await refresh(accountRemoved.url, token);
  expect([changed.status, removed.status]).toEqual([401, 401]);
  expect(changed.body['error']).toBe('invalid_grant');
  // One answer for both: the backend's verdict about the account stays in the audit log.
  expect(changed.body['error_description']).toBe(removed.body['error_description']);
  expect(changed.body['error_description']).toBe('refresh token revoked');
  // The operator's audit line still says why.
  expect(passwordChanged.logs.join('\n')).toContain('refresh token revoked: credential changed');
  expect(accountRemoved.logs.join('\n')).toContain('refresh token revoked: account removed');
});
