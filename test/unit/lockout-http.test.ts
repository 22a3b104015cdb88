import bcrypt from 'bcryptjs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Authenticator } from '../../src/authn/types.js';
import { Lockout } from '../../src/lockout/lockout.js';
import type { Runtime } from '../../src/runtime.js';
import { basic, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The lockout as an attacker meets it: the real HTTP server, a static user with a bcrypt hash of
 * cost 10, many requests on their own connections at once.
 */

const MAX_FAILURES = 5;
const tmp = tempDir();
const password = randomPassword();
let s: TestServer;
let runtime: Runtime;
/** Password checks the backends were asked to make, per account as typed. */
const evaluated = new Map<string, number>();

/** Counts every password a backend is asked to check. */
function counting(a: Authenticator): Authenticator {
  return {
    name: a.name,
    authenticate: (c) => {
      if (c.password !== undefined) evaluated.set(c.account, (evaluated.get(c.account) ?? 0) + 1);
      return a.authenticate(c);
    },
    ...(a.lookup ? { lookup: a.lookup.bind(a) } : {}),
  };
}

interface Reply {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly body: string;
}

/** GET /auth on a connection of its own (no pooling: every request arrives by itself). */
function get(path: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${s.url}${path}`, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const token = (user: string, pw: string, headers: Record<string, string> = {}) =>
  get('/auth?service=registry', { authorization: basic(user, pw), ...headers });

beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
lockout: {max_failures: ${MAX_FAILURES}, backoff: 60}
users:
  alice: {password: "${bcrypt.hashSync(password, 10)}"}
  bob: {password: "${bcrypt.hashSync(password, 10)}"}
acl: [{match: {}, actions: [pull]}]
`,
    runtime: (base) => {
      runtime = { ...base, authenticators: base.authenticators.map(counting) };
      return runtime;
    },
    server: { lockout: new Lockout({ maxEntries: 10_000, policy: () => runtime.config.raw.lockout }) },
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

describe('concurrent guesses', () => {
  test('120 at once, the right password as number 50: at most max_failures passwords are checked, the rest 429', async () => {
    const replies = await Promise.all(
      Array.from({ length: 120 }, (_, i) => token('alice', i === 49 ? password : `wrong-${i}`)),
    );
    const statuses = replies.map((r) => r.status);
    expect(evaluated.get('alice') ?? 0).toBeLessThanOrEqual(MAX_FAILURES);
    expect(statuses.filter((st) => st === 200)).toEqual([]);
    expect(statuses.filter((st) => st === 401).length).toBeLessThanOrEqual(MAX_FAILURES);
    const refused = replies.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(120 - MAX_FAILURES);
    for (const r of refused) expect(Number(r.retryAfter)).toBeGreaterThan(0);
    // Once locked, the right password is refused too, and not even checked.
    const before = evaluated.get('alice');
    expect((await token('alice', password)).status).toBe(429);
    expect(evaluated.get('alice')).toBe(before);
  });
});
