import bcrypt from 'bcryptjs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Authenticator } from '../../src/authn/types.js';
import { Lockout } from '../../src/guard/lockout.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { proxiedConfig, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The lockout as an attacker meets it: the real HTTP server, a static user with a bcrypt hash of
 * cost 10, many requests on their own connections at once.
 */

const MAX_FAILURES = 5;
const ACCOUNT_MAX_FAILURES = 12;
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
    config:
      proxiedConfig(`lockout: {max_failures: ${MAX_FAILURES}, backoff: 60, account_max_failures: ${ACCOUNT_MAX_FAILURES}}
users:
  alice: {password: "${bcrypt.hashSync(password, 10)}"}
  bob: {password: "${hash(password)}"}
  carol: {password: "${hash(password)}"}
  dave: {password: "${hash(password)}"}
  erin: {password: "${hash(password)}"}
  ci: {password: "${bcrypt.hashSync(password, 8)}"}
`),
    runtime: (base) => {
      runtime = { ...base, authenticators: base.authenticators.map(counting) };
      return runtime;
    },
    server: { lockout: new Lockout({ maxEntries: 10_000, policy: () => runtime.config.lockout }) },
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

describe('legitimate bursts are not refused', () => {
  test('60 logins at once with the right password from one client all get tokens', async () => {
    const replies = await Promise.all(Array.from({ length: 60 }, () => token('ci', password)));
    expect(replies.map((r) => r.status)).toEqual(Array(60).fill(200));
  });

  test('60 logins at once with the right password from 60 new clients all get tokens', async () => {
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) => token('ci', password, { 'x-forwarded-for': `192.0.2.${i + 1}` })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(60).fill(200));
  });
});

describe('many addresses', () => {
  /** Through the trusted proxy (127.0.0.1), for the client it names. */
  const from = (client: string) => ({ 'x-forwarded-for': client });

  test('IPv6 clients are counted per /64: fresh addresses of one network share a count', async () => {
    const statuses: number[] = [];
    for (let n = 1; n <= 40; n++)
      statuses.push((await token('bob', `wrong-${n}`, from(`2001:db8:1:2::${n}`))).status);
    expect(evaluated.get('bob')).toBe(MAX_FAILURES);
    expect(statuses).toEqual([...Array(MAX_FAILURES).fill(401), ...Array(40 - MAX_FAILURES).fill(429)]);
    expect((await token('bob', password, from('2001:db8:1:2:ffff::1'))).status).toBe(429);
    // Another /64 is another client; so is an IPv4 address.
    expect((await token('bob', password, from('2001:db8:1:3::1'))).status).toBe(200);
    expect((await token('bob', password, from('198.51.100.20'))).status).toBe(200);
  });

  test('failures for one account from everywhere are capped, except for clients it recently logged in from', async () => {
    // carol logged in from her usual address before the guessing began.
    expect((await token('carol', password, from('198.51.100.9'))).status).toBe(200);
    const statuses: number[] = [];
    for (let n = 1; n <= 30; n++)
      statuses.push((await token('carol', `wrong-${n}`, from(`203.0.113.${n}`))).status);
    expect(evaluated.get('carol')).toBe(1 + ACCOUNT_MAX_FAILURES);
    expect(statuses).toEqual([
      ...Array(ACCOUNT_MAX_FAILURES).fill(401),
      ...Array(30 - ACCOUNT_MAX_FAILURES).fill(429),
    ]);
    // A new client is held back even with the right password...
    const fresh = await token('carol', password, from('203.0.113.200'));
    expect(fresh.status).toBe(429);
    expect(Number(fresh.retryAfter)).toBeGreaterThan(0);
    // ...but nobody can lock carol out from where she logs in, and other accounts are not slowed.
    expect((await token('carol', password, from('198.51.100.9'))).status).toBe(200);
    expect((await token('dave', password, from('203.0.113.200'))).status).toBe(200);
  });
});

describe('X-Forwarded-For from the trusted proxy', () => {
  test.each(['1.2.3.4,garbage', 'garbage', '[2001:db8::1', '2001:db8::1]:443'])(
    '%j: 400 with a JSON error, no password checked',
    async (xff) => {
      const before = evaluated.get('erin') ?? 0;
      const reply = await token('erin', 'wrong', { 'x-forwarded-for': xff });
      expect(reply.status).toBe(400);
      expect(JSON.parse(reply.body)).toEqual({
        errors: [{ code: 'BAD_REQUEST', message: expect.stringMatching(/X-Forwarded-For/) as unknown }],
      });
      expect(evaluated.get('erin') ?? 0).toBe(before);
    },
  );

  test('ports and brackets are the forms proxies send: 1.2.3.4:5555 is 1.2.3.4, [2001:db8::1]:443 is 2001:db8::1', async () => {
    for (let i = 0; i < MAX_FAILURES; i++) {
      expect((await token('erin', 'wrong', { 'x-forwarded-for': `1.2.3.4:${5000 + i}` })).status).toBe(401);
    }
    expect((await token('erin', password, { 'x-forwarded-for': '1.2.3.4' })).status).toBe(429);
    // The proxy itself is another client.
    expect((await token('erin', password)).status).toBe(200);
    for (let i = 0; i < MAX_FAILURES; i++) {
      expect((await token('erin', 'wrong', { 'x-forwarded-for': `[2001:db8::${i + 1}]:443` })).status).toBe(
        401,
      );
    }
    expect((await token('erin', password, { 'x-forwarded-for': '2001:db8::99' })).status).toBe(429);
  });
});
