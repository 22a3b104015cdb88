import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CommandResult, CommandRunner } from '../../src/ext/command.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, randomPassword, tempDir } from '../helpers/fixtures.js';
import { proxiedConfig, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * ext_auth's per-client bound, beside a static user, as an attacker meets it: whatever keeps the
 * command busy for one address (anonymous requests run it too), a wrong password for a static
 * user and a made-up name must get the same answer, and one address holds at most
 * `max_per_client` runs of the command.
 */

type Held = { req: Parameters<CommandRunner>[0]; done: (r: CommandResult) => void };
const NOT_MINE: CommandResult = { code: 2, signal: null, stdout: '', stderr: '' };

/** A server whose ext_auth command runs until released; `extAuth` is its ext_auth mapping. */
function server(extAuth: string) {
  const tmp = tempDir();
  const held: Held[] = [];
  let s: TestServer;
  let runtime: Runtime;
  beforeAll(async () => {
    s = await startTestServer({
      dir: tmp.dir,
      config: proxiedConfig(`users:
  admin: {password: "${bcrypt.hashSync(randomPassword(), 4)}"}
ext_auth: ${extAuth}
credential_cache: {ttl: 0}
lockout: {enabled: false}
`),
      // Held until released: a command that is still running. Made-up names are not its (2).
      runtimeDeps: { runCommand: (req) => new Promise((done) => held.push({ req, done })) },
      runtime: (base) => (runtime = base),
      server: { loginQueue: new LoginQueue({ policy: () => runtime.loginQueue }) },
    });
  });
  afterAll(async () => {
    for (const h of held) h.done(NOT_MINE);
    await s.server.close(100);
    tmp.cleanup();
  });
  return {
    held,
    get: async (client: string, authorization?: string) => {
      const res = await fetch(`${s.url}/auth?service=registry`, {
        headers: { 'x-forwarded-for': client, ...(authorization ? { authorization } : {}) },
      });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
    },
    /** Waits (up to 2 s) until `n` runs are held. */
    until: async (n: number) => {
      for (let i = 0; i < 200 && held.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    },
    release: () => {
      for (const h of held.splice(0)) h.done(NOT_MINE);
    },
  };
}

describe('max_concurrency 8, max_per_client 2', () => {
  const { held, get, until, release } = server(
    '{command: /bin/false, max_concurrency: 8, max_per_client: 2}',
  );

  test('anonymous requests holding the command for an address: admin:wrong and nobody:wrong get the same answer', async () => {
    const client = '10.7.0.1';
    const anonymous = [get(client), get(client)];
    await until(2);
    const answers = Promise.all([
      get(client, basic('nobody', 'wrong-password')),
      get(client, basic('admin', 'wrong-password')),
    ]);
    // The address holds its share of the command already: neither runs it.
    await until(4);
    const runs = held.length;
    release();
    const [madeUp, wrong] = await answers;
    expect(runs).toBe(2);
    expect(wrong).toEqual(madeUp);
    expect(madeUp.status).toBe(429);
    expect((await Promise.all(anonymous)).map((r) => r.status)).toEqual([401, 401]);
  });

  test('the addresses of one IPv6 /64 share one max_per_client, as the lockout counts them', async () => {
    // Anonymous requests run the command too: a fresh address of the /64 per request must not
    // get more than max_per_client runs.
    const anonymous = [get('2001:db8:7:1::1'), get('2001:db8:7:1::2')];
    await until(2);
    const third = get('2001:db8:7:1::3');
    await until(3);
    const runs = held.length;
    release();
    expect(runs).toBe(2);
    expect((await third).status).toBe(429);
    expect((await Promise.all(anonymous)).map((r) => r.status)).toEqual([401, 401]);
  });

  test('logins from one address past ext_auth.max_per_client are refused before any password is checked, alike', async () => {
    const client = '10.7.0.2';
    const logins = [get(client, basic('flood1', 'x')), get(client, basic('flood2', 'x'))];
    await until(2);
    const madeUp = await get(client, basic('nobody', 'wrong-password'));
    const wrong = await get(client, basic('admin', 'wrong-password'));
    expect(madeUp.status).toBe(429);
    expect(wrong).toEqual(madeUp);
    release();
    await Promise.all(logins);
  });
});

describe('max_concurrency 4, max_per_client 1', () => {
  const { held, get, until, release } = server(
    '{command: /bin/false, max_concurrency: 4, max_per_client: 1, timeout: 1}',
  );

  test('one address holds at most max_per_client runs, anonymous or login', async () => {
    const fillers = ['10.8.0.1', '10.8.0.2'].flatMap((client) => [
      get(client),
      get(client, basic(`flood-${client}`, 'x')),
    ]);
    await until(4);
    expect(held).toHaveLength(2);
    // Two addresses cannot fill the command's four slots: others reach it as usual.
    const answers = Promise.all([
      get('10.8.0.3', basic('nobody', 'wrong-password')),
      get('10.8.0.4', basic('admin', 'wrong-password')),
    ]);
    await until(4);
    expect(held).toHaveLength(4);
    release();
    expect((await answers).map((r) => r.status)).toEqual([401, 401]);
    const statuses = (await Promise.all(fillers)).map((r) => r.status).sort();
    expect(statuses).toEqual([401, 401, 429, 429]);
  });
});

// docs/security.md said a static user's wrong password got 401 while every slot was taken (its
// decoy turned away) where a made-up name waited and got 503; a review found the decoy waits for a
// slot too, and its wait running out is the command's outage: 503 for both.
describe('max_concurrency 2, max_per_client 1: every slot taken', () => {
  const { get, until, release } = server(
    '{command: /bin/false, max_concurrency: 2, max_per_client: 1, timeout: 1}',
  );

  test('a static user and a made-up name both wait for a slot and get 503', async () => {
    const fillers = ['10.9.0.1', '10.9.0.2'].map((client) => get(client, basic(`flood-${client}`, 'x')));
    await until(2);
    const started = performance.now();
    const [known, madeUp] = await Promise.all([
      get('10.9.0.3', basic('admin', 'wrong-password')),
      get('10.9.0.4', basic('nobody', 'wrong-password')),
    ]);
    const waited = performance.now() - started;
    release();
    await Promise.all(fillers);
    expect([known.status, madeUp.status]).toEqual([503, 503]);
    expect(known.body).toBe(madeUp.body);
    // Both waited for the command's timeout (1 s) before being answered.
    expect(waited).toBeGreaterThan(900);
  });
});
