import { afterAll, beforeAll } from 'vitest';
import { UnauthorizedError } from '../../src/core/errors.js';
import { Lockout, type LockoutPolicy } from '../../src/guard/lockout.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import type { Runtime, RuntimeDeps } from '../../src/pipeline/runtime.js';
import { MemoryLockoutStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type LockoutStore } from '../../src/store/types.js';
import { tempDir } from './fixtures.js';
import { loginStatus, proxiedConfig, startTestServer, type TestServer } from './server.js';

/** The policy the lockout tests start from: the third failure locks; a wide account cap. */
export const LOCKOUT_POLICY: LockoutPolicy = {
  enabled: true,
  max_failures: 3,
  backoff: 2,
  max_backoff: 30,
  forget_after: 600,
  ipv6_prefix: 64,
  account_max_failures: 10_000,
  remember_success: 86_400,
};

/**
 * A backend's refusal of a wrong password, `delayMs` after it was asked, naming the account as
 * the backend holds it (a directory that holds alice@example.org as alice says alice).
 */
export function deniedAs(account: string, delayMs = 0, authenticator = 'ldap_auth') {
  return async (): Promise<never> => {
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    throw new UnauthorizedError(undefined, { authenticator, reason: 'invalid credentials', account });
  };
}

/** What a stand-in store does with one operation: answer it, fail it at once, or hold it. */
export type StoreStep = 'answer' | 'fail' | 'hang';

/**
 * A shared store (no answer at once, as Redis) over a memory store, whose every operation does
 * what `step` says: answered, failed at once (StoreUnavailableError: Redis down), or held until
 * released from `hanging`, then failed (a Redis command that times out). `asked` lists every
 * operation asked, `failed` those that did not answer (what regauth_store_errors_total counts).
 */
export function steppedStore(step: (operation: string) => StoreStep): {
  store: LockoutStore;
  asked: string[];
  failed: string[];
  hanging: (() => void)[];
} {
  const inner = new MemoryLockoutStore(100);
  const asked: string[] = [];
  const failed: string[] = [];
  const hanging: (() => void)[] = [];
  const op =
    <A extends unknown[], R>(name: string, f: (...a: A) => Promise<R>) =>
    (...a: A): Promise<R> => {
      asked.push(name);
      const what = step(name);
      if (what === 'answer') return f(...a);
      failed.push(name);
      if (what === 'fail') return Promise.reject(new StoreUnavailableError(`${name}: down`));
      return new Promise<R>((_resolve, reject) =>
        hanging.push(() => reject(new StoreUnavailableError(`${name}: timed out`))),
      );
    };
  const store: LockoutStore = {
    size: undefined,
    blocked: op('blocked', inner.blocked.bind(inner)),
    reserve: op('reserve', inner.reserve.bind(inner)),
    release: op('release', inner.release.bind(inner)),
    failure: op('failure', inner.failure.bind(inner)),
    success: op('success', inner.success.bind(inner)),
  };
  return { store, asked, failed, hanging };
}

/**
 * A shared store (Redis across a network) over `inner`, whose calls are answered in rounds: one
 * attempt's rounds are the round trips it waits for one after another, counted rather than
 * timed, so a busy machine cannot blur them. Calls sent together (Promise.all) share a round.
 */
export function roundStore(inner = new MemoryLockoutStore(100)): {
  store: LockoutStore;
  rounds(settled: Promise<unknown>): Promise<number>;
} {
  let waiting: Array<() => void> = [];
  const stepped =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      await new Promise<void>((answer) => waiting.push(answer));
      return f(...a);
    };
  return {
    store: {
      size: undefined,
      blocked: stepped(inner.blocked.bind(inner)),
      reserve: stepped(inner.reserve.bind(inner)),
      release: stepped(inner.release.bind(inner)),
      failure: stepped(inner.failure.bind(inner)),
      success: stepped(inner.success.bind(inner)),
      lockNews: () => undefined,
    },
    async rounds(settled) {
      let done = false;
      settled.then(
        () => (done = true),
        () => (done = true),
      );
      let rounds = 0;
      while (!done) {
        // Time for the attempt to send every call of its next round before it is answered.
        await new Promise((r) => setTimeout(r, 5));
        if (waiting.length === 0) continue;
        rounds++;
        const answering = waiting;
        waiting = [];
        for (const answer of answering) answer();
      }
      return rounds;
    },
  };
}

/** What useGuardedServer hands a test file. */
export interface GuardedServer {
  /** The running server (once the file's beforeAll has run). */
  readonly server: TestServer;
  /** The loaded runtime whose login_queue and lockout the queue and the lockout read. */
  readonly runtime: Runtime;
  /** The server's lockout. */
  readonly lockout: Lockout;
  /** The server's login queue. */
  readonly queue: LoginQueue;
  /** The status of a token request to this server from client `ip` (loginStatus). */
  login(ip: string, account: string, password: string): Promise<number>;
}

/**
 * Sets up, for one test file, the server the lockout tests log in to: startTestServer behind the
 * test's proxy (proxiedConfig(`sections`)) with `runtimeDeps`, and a LoginQueue and a Lockout
 * (its store, `shared`, `onStoreError` from `lockout`) that read the loaded runtime's login_queue
 * and lockout, as `serve` wires them. Started in a fresh temporary directory before the file's
 * tests; closed (100 ms) and the directory removed after them.
 */
export function useGuardedServer(options: {
  readonly sections: string;
  readonly runtimeDeps?: RuntimeDeps;
  readonly lockout?: Omit<ConstructorParameters<typeof Lockout>[0], 'policy'>;
}): GuardedServer {
  const tmp = tempDir();
  let server: TestServer | undefined;
  let runtime: Runtime | undefined;
  const started = (): TestServer => {
    if (!server) throw new Error('useGuardedServer: the server is not started yet (used before beforeAll?)');
    return server;
  };
  const loaded = (): Runtime => {
    if (!runtime) throw new Error('useGuardedServer: no runtime yet (used before beforeAll?)');
    return runtime;
  };
  const queue = new LoginQueue({ policy: () => loaded().loginQueue });
  const lockout = new Lockout({ ...options.lockout, policy: () => loaded().config.lockout });

  beforeAll(async () => {
    server = await startTestServer({
      dir: tmp.dir,
      config: proxiedConfig(options.sections),
      ...(options.runtimeDeps ? { runtimeDeps: options.runtimeDeps } : {}),
      runtime: (base) => (runtime = base),
      server: { loginQueue: queue, lockout },
    });
  });
  afterAll(async () => {
    await server?.server.close(100);
    tmp.cleanup();
  });

  return {
    get server() {
      return started();
    },
    get runtime() {
      return loaded();
    },
    lockout,
    queue,
    login: (ip, account, password) => loginStatus(started().url, ip, account, password),
  };
}
