import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bcryptVerifier, type PasswordVerifier } from '../../src/authn/password.js';
import type { RunningServer } from '../../src/http/server.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

/**
 * HEAD on the token endpoint is not a token request: Express would route it to the GET
 * handler (authenticate, authorize, sign, audit) and only drop the body. It gets 405 like
 * every other method the endpoint does not support.
 */

const tmp = tempDir();
const alicePassword = randomPassword();
let logLines: string[] = [];
let passwordChecks = 0;
let server: RunningServer;
let base: string;

/** The error body a PUT gets; a HEAD reply announces the same JSON (HTTP sends no body with HEAD). */
const METHOD_NOT_ALLOWED = JSON.stringify({
  errors: [{ code: 'UNSUPPORTED', message: 'method not allowed' }],
});

beforeAll(async () => {
  const real = bcryptVerifier(4);
  const verifier: PasswordVerifier = {
    verify: (password, h) => {
      passwordChecks += 1;
      return real.verify(password, h);
    },
    burn: (password) => {
      passwordChecks += 1;
      return real.burn(password);
    },
  };
  // Anonymous pulls are allowed, so a HEAD without credentials would have got a token too.
  const started = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      `server:\n  path_prefix: /regauth\ntoken:\n  issuer: test-issuer\n  key: ${keyPath}\n  certificate: ${certPath}\nusers:\n  alice:\n    password: "${hash(alicePassword)}"\n  "": {}\nacl:\n  - match: {}\n    actions: [pull]\n`,
    runtimeDeps: { verifier },
  });
  server = started.server;
  logLines = started.logs;
  base = `${server.url}/regauth`;
});
afterAll(async () => {
  await server.close(100);
  tmp.cleanup();
});

describe('HEAD on the token endpoint', () => {
  test.each([
    ['/auth?service=reg&scope=repository:a/b:pull', {}],
    ['/auth/token?service=reg&scope=repository:a/b:pull', {}],
    ['/auth?service=reg&scope=repository:a/b:pull', { authorization: basic('alice', alicePassword) }],
  ])('HEAD %s: 405 JSON with Allow, no token issued', async (path, headers) => {
    const res = await fetch(`${base}${path}`, { method: 'HEAD', headers });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST');
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(METHOD_NOT_ALLOWED)));
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe('');
  });

  test('a PUT gets the same reply, with the JSON body', async () => {
    const res = await fetch(`${base}/auth`, { method: 'PUT' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST');
    expect(await res.text()).toBe(METHOD_NOT_ALLOWED);
  });

  test('nothing was authenticated, signed or audited', () => {
    expect(passwordChecks).toBe(0);
    const all = logLines.join('');
    expect(all).not.toContain('token issued');
    expect(all).not.toContain('token refused');
  });

  test('GET still issues tokens (the HEAD route does not shadow it)', async () => {
    const res = await fetch(`${base}/auth?service=reg&scope=repository:a/b:pull`);
    expect(res.status).toBe(200);
    expect(typeof ((await res.json()) as { token?: unknown }).token).toBe('string');
    expect(logLines.join('')).toContain('token issued');
  });
});
