import { join } from 'node:path';
import { afterEach, expect, test, vi } from 'vitest';
import type { CommandResult, CommandRunner } from '../../src/ext/command.js';
import { loadConfigText } from '../../src/config/load.js';
import { Lockout } from '../../src/guard/lockout.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import { TooManyRequestsError } from '../../src/core/errors.js';
import { createMetrics, instrumentAuthenticator } from '../../src/pipeline/metrics.js';
import { issueGuarded } from '../../src/http/token.js';
import { createRuntime } from '../../src/pipeline/runtime.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import { MemoryLockoutStore } from '../../src/store/memory.js';
import type { LockoutStore } from '../../src/store/types.js';
import { basic, hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * The login queue is ext_auth's one bound per client address (src/pipeline/runtime.ts queued):
 * a request it let pass without a place because a credential cache answered it must take one
 * when the chain runs the command after all (the cache hit gone since, or no longer deciding).
 */

afterEach(() => vi.useRealTimers());

test('a cache hit at ext_auth gone before the chain runs the command: the login takes a place first (max_per_client 1 holds)', async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  const t0 = Date.now();
  const tmp = tempDir();
  try {
    const { keyPath, certPath } = await writeSigningKey(tmp.dir);
    const yaml = `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users: {admin: {password: "${hash('admin-pw')}"}}
ext_auth: {command: /bin/true, max_concurrency: 4, max_per_client: 1}
credential_cache: {ttl: 60}
acl: [{match: {}, actions: [pull]}]
`;
    type Held = { req: Parameters<CommandRunner>[0]; done: (r: CommandResult) => void };
    const held: Held[] = [];
    let hold = false;
    const runCommand: CommandRunner = (req) => {
      if (hold) return new Promise((done) => held.push({ req, done }));
      const ok = req.stdin === 'ci-bot good';
      return Promise.resolve({ code: ok ? 0 : 2, signal: null, stdout: '', stderr: '' });
    };
    const metrics = createMetrics();
    const runtime = createRuntime(loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') }), {
      runCommand,
      instrument: (a) => instrumentAuthenticator(a, metrics),
    });
    const loginQueue = new LoginQueue({ policy: () => runtime.loginQueue });
    // A shared store (Redis) answers after a round trip: 5 ms pass while the lockout asks.
    const memory = new MemoryLockoutStore(1000);
    const store: LockoutStore = new Proxy(memory, {
      get(target, prop, receiver) {
        if (prop === 'blocked')
          return async (...args: Parameters<LockoutStore['blocked']>) => {
            vi.setSystemTime(Date.now() + 5);
            return target.blocked(...args);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const lockout = new Lockout({ store, policy: () => runtime.config.lockout });
    const deps = { loginQueue, lockout };
    const issue = (authorization: string) =>
      issueGuarded(
        deps,
        runtime,
        parseTokenRequest({ method: 'GET', query: 'service=registry', authorization, body: '' }),
        { ip: '10.9.0.1', now: Math.floor(Date.now() / 1000) },
      );

    // The attacker's own ext_auth account logs in once: cached at ext_auth.
    await issue(basic('ci-bot', 'good'));
    hold = true;
    // One made-up login from the address holds its one place (admitted, command running).
    const madeUp = issue(basic('nobody', 'x')).catch((e: unknown) => e);
    await vi.waitFor(() => expect(held).toHaveLength(1));
    // Just before the cached success expires, the cached login again.
    vi.setSystemTime(t0 + 60_000 - 2);
    const cachedLogin = issue(basic('ci-bot', 'good')).catch((e: unknown) => e);
    await new Promise((r) => setImmediate(r));
    const runs = held.map((h) => ({ client: h.req.client }));
    for (const h of held.splice(0)) h.done({ code: 2, signal: null, stdout: '', stderr: '' });
    const [, refused] = await Promise.all([madeUp, cachedLogin]);
    // At most ext_auth.max_per_client (1) runs for the address: the second login is turned away.
    expect(runs).toEqual([{ client: undefined }]);
    expect(refused).toBeInstanceOf(TooManyRequestsError);
    expect(loginQueue.pending).toBe(0);
    // A request turned away is not ext_auth failing to answer.
    expect(await metrics.registry.metrics()).not.toMatch(
      /regauth_authenticator_errors_total\{backend="ext_auth"\} [1-9]/,
    );
  } finally {
    tmp.cleanup();
  }
});
