import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, test } from 'vitest';
import { auditRecord, outcomeOf } from '../../src/pipeline/audit.js';
import type { Authenticator, AuthnResult, Credentials } from '../../src/authn/types.js';
import { lockoutSchema } from '../../src/guard/config.js';
import { logSchema } from '../../src/core/log.js';
import { metricsSchema } from '../../src/config/schema.js';
import { watchConfigFiles, type ConfigWatcher } from '../../src/config/watch.js';
import { UnauthorizedError } from '../../src/core/errors.js';
import { readiness } from '../../src/pipeline/health.js';
import { createLogger } from '../../src/core/log.js';
import { createMetrics, instrumentAuthenticator } from '../../src/pipeline/metrics.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { Secret } from '../../src/core/secret.js';
import { tempDir } from '../helpers/fixtures.js';
import { authnObserved } from '../helpers/metrics.js';

describe('config sections log, metrics, lockout', () => {
  test('defaults', () => {
    expect(logSchema.parse({})).toEqual({ level: 'info', format: 'auto', recent_decisions: 0 });
    expect(metricsSchema.parse({})).toEqual({});
    expect(lockoutSchema.parse({})).toEqual({
      enabled: true,
      max_failures: 5,
      backoff: 1,
      forget_after: 900,
      max_entries: 10_000,
      ipv6_prefix: 64,
      account_max_failures: 50,
      remember_success: 2_592_000,
    });
    expect(lockoutSchema.parse({ max_backoff: '15m', forget_after: '1h' })).toMatchObject({
      max_backoff: 900,
      forget_after: 3600,
    });
  });

  test.each([
    [logSchema, { level: 'loud' }, 'must be one of trace, debug, info, warn, error, fatal, silent'],
    [logSchema, { format: 'xml' }, 'must be one of auto, json, pretty'],
    [logSchema, { colour: true }, 'unknown key; expected one of level, format, recent_decisions'],
    [logSchema, { recent_decisions: -1 }, 'must be at least 0'],
    [logSchema, { recent_decisions: 1.5 }, 'must be an integer'],
    [metricsSchema, { addr: '9090' }, 'expected [host]:port, e.g. "127.0.0.1:9090"'],
    [lockoutSchema, { max_failures: 0 }, 'must be at least 1'],
    [lockoutSchema, { backoff: 'soon' }, 'invalid duration "soon"; use seconds or e.g. "15m", "90d"'],
    [lockoutSchema, { enabled: 'yes' }, 'must be true or false'],
    [lockoutSchema, { ipv6_prefix: 129 }, 'must be a number from 1 to 128'],
    [lockoutSchema, { ipv6_prefix: 0 }, 'must be a number from 1 to 128'],
    [lockoutSchema, { account_max_failures: 0 }, 'must be at least 1'],
    [
      lockoutSchema,
      { remember_success: 'later' },
      'invalid duration "later"; use seconds or e.g. "15m", "90d"',
    ],
  ] as const)('%#: refused with a clear message', (schema, value, message) => {
    const result = schema.safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(message);
  });
});

describe('watchConfigFiles', () => {
  let watcher: ConfigWatcher | undefined;
  let tmp: ReturnType<typeof tempDir> | undefined;
  afterEach(() => {
    watcher?.close();
    tmp?.cleanup();
  });

  function changes(): { count: () => number; next: () => Promise<void> } {
    let count = 0;
    let wake: (() => void) | undefined;
    watcher = watchConfigFiles(
      () => {
        count++;
        wake?.();
      },
      { debounceMs: 100 },
    );
    return { count: () => count, next: () => new Promise((r) => (wake = r)) };
  }

  test('an editor-style save (write a temp file, rename it over) fires once, and again after re-arming', async () => {
    tmp = tempDir();
    const file = join(tmp.dir, 'config.yml');
    writeFileSync(file, 'a: 1\n');
    const c = changes();
    watcher!.watch([file]);
    const first = c.next();
    writeFileSync(join(tmp.dir, '.config.yml.swp'), 'a: 2\n');
    writeFileSync(file, '');
    renameSync(join(tmp.dir, '.config.yml.swp'), file);
    await first;
    expect(c.count()).toBe(1);
    // The renamed file is a new inode; the directory watch still sees the next save.
    const second = c.next();
    writeFileSync(file, 'a: 3\n');
    await second;
    expect(c.count()).toBe(2);
  });

  test('a config directory that is a symlink swapped to another release (Capistrano-style) fires', async () => {
    // /etc/regauth -> releases/1, then replaced atomically by a link to releases/2: the watch on
    // the old target saw nothing, and regauth kept serving the old release. Found by a review.
    tmp = tempDir();
    for (const release of ['1', '2']) {
      mkdirSync(join(tmp.dir, 'releases', release), { recursive: true });
      writeFileSync(join(tmp.dir, 'releases', release, 'config.yml'), `release: ${release}\n`);
    }
    const current = join(tmp.dir, 'current');
    symlinkSync(join(tmp.dir, 'releases', '1'), current);
    const c = changes();
    watcher!.watch([join(current, 'config.yml')]);
    const swapped = c.next();
    symlinkSync(join(tmp.dir, 'releases', '2'), `${current}.new`);
    renameSync(`${current}.new`, current);
    await Promise.race([swapped, new Promise((r) => setTimeout(r, 2000))]);
    expect(c.count()).toBe(1);
    // And the new release's file is watched from then on, once re-armed as a reload does.
    watcher!.watch([join(current, 'config.yml')]);
    const edited = c.next();
    writeFileSync(join(tmp.dir, 'releases', '2', 'config.yml'), 'release: 2b\n');
    await Promise.race([edited, new Promise((r) => setTimeout(r, 2000))]);
    expect(c.count()).toBe(2);
  });

  test('other files in the directory are ignored', async () => {
    tmp = tempDir();
    const file = join(tmp.dir, 'config.yml');
    writeFileSync(file, 'a: 1\n');
    const c = changes();
    watcher!.watch([file]);
    writeFileSync(join(tmp.dir, 'unrelated.txt'), 'x');
    const named = c.next();
    writeFileSync(file, 'a: 2\n');
    await named;
    expect(c.count()).toBe(1);
  });
});

describe('readiness', () => {
  const runtimeWith = (
    authenticators: Authenticator[],
    sign: Runtime['sign'] = () => Promise.resolve('jwt'),
  ): Runtime => ({ config: {}, authenticators, sign }) as unknown as Runtime;
  const backend = (name: string, check?: () => Promise<void>): Authenticator => ({
    name,
    authenticate: () => Promise.resolve({ outcome: 'no_match' }),
    ...(check ? { check } : {}),
  });

  test('ready when the key signs and every check passes', async () => {
    const r = await readiness(runtimeWith([backend('users'), backend('ldap_auth', () => Promise.resolve())]));
    expect(r).toEqual({ ready: true, checks: { config: 'ok', signing_key: 'ok', ldap_auth: 'ok' } });
  });

  test.each([
    [
      'a failing check',
      () => Promise.reject(new Error('ldap://dir:389: connection refused')),
      'ldap://dir:389: connection refused',
    ],
    ['a check that hangs', () => new Promise<void>(() => undefined), 'no answer within 50 ms'],
  ])('not ready with %s', async (_name, check, reason) => {
    const r = await readiness(runtimeWith([backend('ldap_auth', check)]), { timeoutMs: 50 });
    expect(r.ready).toBe(false);
    expect(r.checks['ldap_auth']).toBe(reason);
  });

  test('not ready when the key cannot sign; not ready without a config', async () => {
    const broken = runtimeWith([], () => Promise.reject(new Error('key unusable')));
    expect(await readiness(broken)).toEqual({
      ready: false,
      checks: { config: 'ok', signing_key: 'cannot sign: key unusable' },
    });
    expect((await readiness(undefined)).ready).toBe(false);
  });

  // Found in a review of 3dcb430 (probes share a running one): the key check waited for the
  // signature without a bound, so a signing thread that never answered held /readyz, and every
  // probe sharing it, open for good; the log never said "not ready". Bounded as the others are.
  test('not ready when the key check does not answer in time', async () => {
    const hung = runtimeWith([], () => new Promise<string>(() => undefined));
    const r = await readiness(hung, { timeoutMs: 50 });
    expect(r).toEqual({
      ready: false,
      checks: { config: 'ok', signing_key: 'cannot sign: no answer within 50 ms' },
    });
  });

  // Found by a review of the bound above: a key check that timed out left its signature queued,
  // and each later probe queued one more behind a hung signing thread; and the key check ran
  // before the others, so one probe could take twice the bound.
  test('a key check still pending is waited for again, not asked anew', async () => {
    let signs = 0;
    const hung = runtimeWith([], () => {
      signs += 1;
      return new Promise<string>(() => undefined);
    });
    for (let i = 0; i < 3; i++) {
      expect((await readiness(hung, { timeoutMs: 20 })).checks['signing_key']).toBe(
        'cannot sign: no answer within 20 ms',
      );
    }
    expect(signs).toBe(1);
  });

  test('the key check runs beside the backend checks, not before them', async () => {
    let signing = false;
    let checkedWhileSigning = false;
    const slowKey = runtimeWith(
      [
        backend('ldap_auth', () => {
          checkedWhileSigning = signing;
          return Promise.resolve();
        }),
      ],
      () => {
        signing = true;
        return new Promise<string>((resolve) =>
          setTimeout(() => {
            signing = false;
            resolve('jwt');
          }, 30),
        );
      },
    );
    expect((await readiness(slowKey)).ready).toBe(true);
    expect(checkedWhileSigning).toBe(true);
  });

  test('not ready once a certificate of the x5c chain has expired; kid-only keys do not care', async () => {
    const END = Date.parse('2027-03-01T00:00:00Z');
    const withChain = (x5c: boolean) =>
      ({
        config: {
          token: {
            key: {
              x5c: x5c ? ['leaf', 'intermediate'] : [],
              certificates: [
                { validTo: 'Mar  1 00:00:00 2030 GMT' },
                { validTo: 'Mar  1 00:00:00 2027 GMT' },
              ],
            },
          },
        },
        authenticators: [],
        sign: () => Promise.resolve('jwt'),
      }) as unknown as Runtime;
    expect((await readiness(withChain(true), { now: () => END - 1000 })).ready).toBe(true);
    const after = await readiness(withChain(true), { now: () => END + 1000 });
    expect(after.ready).toBe(false);
    expect(after.checks['signing_key']).toBe(
      'certificate 2 of the chain expired at 2027-03-01T00:00:00.000Z; the registry refuses every token (x5c): replace the key',
    );
    expect((await readiness(withChain(false), { now: () => END + 1000 })).ready).toBe(true);
  });
});

describe('audit record and metrics', () => {
  test.each([
    [200, 'granted'],
    [401, 'denied'],
    [400, 'bad_request'],
    [405, 'bad_request'],
    [429, 'locked'],
    [503, 'unavailable'],
    [500, 'error'],
  ] as const)('status %i is outcome %s', (status, outcome) => {
    expect(outcomeOf(status)).toBe(outcome);
  });

  test('a denial names the deciding authenticator and reason, never the password', () => {
    const password = new Secret('hunter2-very-secret');
    const record = auditRecord({
      requestId: 'r1',
      method: 'GET',
      ip: '203.0.113.9',
      via: '10.1.2.3',
      request: {
        grant: 'password',
        credentials: { account: 'alice', password },
        service: 'registry',
        clientId: undefined,
        offline: false,
        scopes: [{ type: 'repository', name: 'alice/app', actions: ['pull'] }],
      },
      error: new UnauthorizedError(undefined, { authenticator: 'users', reason: 'wrong password' }),
      status: 401,
      ms: 12.3456,
    });
    expect(record).toEqual({
      requestId: 'r1',
      method: 'GET',
      client: { ip: '203.0.113.9', via: '10.1.2.3' },
      outcome: 'denied',
      status: 401,
      grant: 'password',
      service: 'registry',
      clientId: undefined,
      account: 'alice',
      requested: ['repository:alice/app:pull'],
      authenticator: 'users',
      reason: 'wrong password',
      ms: 12.346,
    });
    const lines: string[] = [];
    const logger = createLogger({
      format: 'json',
      destination: new Writable({
        write(chunk, _e, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    });
    logger.info(record, 'token refused');
    expect(lines.join('')).not.toContain('hunter2');
  });

  test('instrumented authenticators: successes timed, errors counted, refusals not observed, members kept', async () => {
    const metrics = createMetrics();
    class Backend implements Authenticator {
      readonly name = 'ldap_auth';
      #calls = 0;
      authenticate(_credentials: Credentials): Promise<AuthnResult> {
        this.#calls++;
        if (this.#calls === 1)
          return Promise.resolve({ outcome: 'denied' as const, reason: 'wrong password' });
        if (this.#calls === 2) return Promise.resolve({ outcome: 'no_match' as const });
        if (this.#calls === 3) return Promise.resolve({ outcome: 'authenticated' as const, labels: {} });
        return Promise.reject(new Error('down'));
      }
      calls() {
        return this.#calls;
      }
    }
    const wrapped = instrumentAuthenticator(new Backend(), metrics);
    const successes = () => authnObserved(metrics, 'ldap_auth', 'authenticated');
    for (let i = 0; i < 2; i++) await wrapped.authenticate({ account: 'a', password: undefined });
    // A success is timed once the chain answers with it (remember), not when the backend gives it.
    const credentials = { account: 'a', password: undefined };
    await wrapped.authenticate(credentials);
    expect(await successes()).toBe(0);
    wrapped.remember(credentials);
    wrapped.remember(credentials);
    expect(await successes()).toBe(1);
    await expect(wrapped.authenticate({ account: 'a', password: undefined })).rejects.toThrow('down');
    expect(wrapped).toBeInstanceOf(Backend);
    expect(wrapped.calls()).toBe(4);
    const text = await metrics.registry.metrics();
    expect(text).toContain('regauth_authenticator_errors_total{backend="ldap_auth"} 1');
    // denied and no_match would tell a known name from a made-up one: neither is a series.
    expect(text).not.toMatch(/result="(denied|no_match|rejected)"/);
    expect(text).toContain(
      'regauth_authenticator_duration_seconds_count{backend="ldap_auth",result="authenticated"} 1',
    );
    expect(text).toContain(
      'regauth_authenticator_duration_seconds_count{backend="ldap_auth",result="error"} 1',
    );
  });
});

test('the logger censors secret-named fields, a safety net behind Secret', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ destination: sink, format: 'json' });
  logger.info(
    {
      password: 'p1',
      authorization: 'Basic x',
      token: 't1',
      refresh_token: 'r1',
      access_token: 'a1',
      headers: { authorization: 'h1' },
    },
    'm',
  );
  const line = JSON.parse(lines.join('')) as Record<string, unknown>;
  expect(line).toMatchObject({
    password: '***',
    authorization: '***',
    token: '***',
    refresh_token: '***',
    access_token: '***',
    headers: { authorization: '***' },
  });
});
