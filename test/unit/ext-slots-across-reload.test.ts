/**
 * Found by a review (ext_auth / ext_authz, config reload): `max_concurrency` and `max_per_client` were not
 * bounds once a reload has happened.
 *
 * The defect: the slots of a command (src/ext/command.ts limitConcurrency) belong to the runtime
 * (src/pipeline/runtime.ts builds a new ExtAuthorizer / ExtAuthenticator, with a new limiter, for
 * every reload). docs/operations.md "Reload" says requests already running finish with the old
 * runtime, and its commands keep running (up to `timeout`, 60 s, and longer while a request holds
 * it). So after a reload the new runtime starts counting at zero while the old one's commands still
 * run: every reload adds another `max_concurrency` (and, for ext_authz, another `max_per_client`
 * for one address). A config directory that a deploy tool or a users_file writer touches often
 * (each write is a reload, docs/operations.md) multiplies it further.
 *
 * What the docs promise: docs/backends/ext.md "How commands run": "at most `max_concurrency` runs
 * at once (default 8; a caller waits for a slot up to the timeout)", and "One client cannot starve
 * the others": `max_per_client` runs in flight for one client address, "past it the request is
 * answered at once with 429". Neither mentions reloads resetting the count.
 *
 * Suggested fix: keep the limiter (the running/waiting counters and the per-client map) per
 * backend for the life of the process, as the lockout and the login queue are
 * (src/service/service.ts requestGuards), and let a reloaded runtime take its size from the new
 * config; or hand the old runtime's counters to the new limiter on swap. Alternatively document
 * that the bound is per config generation.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import {
  CommandSlots,
  limitConcurrency,
  type CommandResult,
  type CommandRunner,
} from '../../src/ext/command.js';
import { TooManyRequestsError } from '../../src/core/errors.js';
import { startService } from '../../src/service/service.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-review-ext-reload-');
afterAll(() => tmp.cleanup());

test('ext_authz: no more than max_concurrency commands run at once, a reload in between', async () => {
  const dir = join(tmp.dir, 'a');
  mkdirSync(dir);
  const keys = await writeSigningKey(dir);
  const configFile = join(dir, 'config.yml');
  const config = (comment: string) => `# ${comment}
server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}
users: {"": {}}
ext_authz: {command: /bin/true, timeout: 30, max_concurrency: 2, max_per_client: 2}
acl: []
`;
  writeFileSync(configFile, config('one'));

  // A command that runs until it is released (an authorizer asking a slow policy service).
  let running = 0;
  let most = 0;
  const releases: (() => void)[] = [];
  const runCommand: CommandRunner = (request) =>
    new Promise<CommandResult>((resolve) => {
      running++;
      most = Math.max(most, running);
      const done = () => {
        running--;
        resolve({ code: 1, signal: null, stdout: '', stderr: '' });
      };
      releases.push(done);
      request.signal?.addEventListener('abort', done, { once: true });
    });

  const service = await startService({
    configFile,
    logger: createLogger({ destination: logSink().stream, format: 'json' }),
    watch: false,
    runtimeDeps: { runCommand },
  });
  const ask = (n: number) =>
    fetch(`${service.url}/auth?service=registry&scope=repository:app${n}:pull`).then((r) => r.status);
  const pending: Promise<number>[] = [];
  try {
    pending.push(ask(1), ask(2));
    await vi.waitFor(() => expect(running).toBe(2), { timeout: 5000, interval: 20 });

    // A reload (a config file saved, SIGHUP) while both slots are taken.
    writeFileSync(configFile, config('two'));
    await service.reload();

    // The same client asks again: by the docs it is past max_per_client (429 at once), and in
    // any case no third command may start while max_concurrency (2) are running.
    pending.push(ask(3), ask(4));
    await new Promise((r) => setTimeout(r, 500));
    expect(most, 'commands running at once (max_concurrency: 2)').toBeLessThanOrEqual(2);
  } finally {
    for (const release of releases) release();
    await Promise.allSettled(pending);
    await service.close(1000);
  }
});

describe('limiters of two config generations sharing their slots', () => {
  const ok = { code: 0, signal: null, stdout: '', stderr: '' };
  /** A runner whose runs end when the test says so, and how many run. */
  function held() {
    const pending: (() => void)[] = [];
    const runner: CommandRunner = () => new Promise((r) => pending.push(() => r(ok)));
    return { runner, pending };
  }
  const req = (client?: string) => ({
    command: 'x',
    args: [],
    stdin: '',
    timeoutMs: 5000,
    ...(client ? { client } : {}),
  });

  test('a lower bound after a reload: new runs wait until fewer than it run, old runs counted', async () => {
    const slots = new CommandSlots();
    const { runner, pending } = held();
    const before = limitConcurrency(runner, 3, 3, slots);
    const after = limitConcurrency(runner, 1, 1, slots);
    const old = [before(req()), before(req()), before(req())];
    await expect.poll(() => pending.length).toBe(3);
    const waiting = after(req());
    pending[0]!();
    pending[1]!();
    await Promise.all(old.slice(0, 2));
    // One old run left: the new bound (1) is reached, so the new run still waits.
    await new Promise((r) => setTimeout(r, 50));
    expect(pending).toHaveLength(3);
    pending[2]!();
    await expect.poll(() => pending.length).toBe(4);
    pending[3]!();
    await expect(waiting).resolves.toEqual(ok);
  });

  test('a higher bound after a reload: new runs start while fewer than it run, old ones included', async () => {
    const slots = new CommandSlots();
    const { runner, pending } = held();
    const before = limitConcurrency(runner, 1, 1, slots);
    const after = limitConcurrency(runner, 2, 2, slots);
    void before(req());
    void after(req());
    const third = after(req());
    await expect.poll(() => pending.length).toBe(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(pending).toHaveLength(2);
    pending[0]!();
    await expect.poll(() => pending.length).toBe(3);
    for (const release of pending) release();
    await third;
  });

  test('one client: its runs under the old config count against the new max_per_client (429)', async () => {
    const slots = new CommandSlots();
    const { runner, pending } = held();
    const before = limitConcurrency(runner, 8, 2, slots);
    const after = limitConcurrency(runner, 8, 2, slots);
    void before(req('10.0.0.66'));
    void before(req('10.0.0.66'));
    await expect.poll(() => pending.length).toBe(2);
    await expect(after(req('10.0.0.66'))).rejects.toBeInstanceOf(TooManyRequestsError);
    for (const release of pending) release();
  });
});
