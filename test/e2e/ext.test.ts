import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { createLogger } from '../../src/core/log.js';
import { startService, type Service } from '../../src/service/service.js';
import { diagnose, readRegistryConfig } from '../../src/tools/doctor.js';
import { keysInit } from '../../src/tools/keys.js';
import { ensureBuilt } from '../helpers/build.js';
import { basic, randomPassword, tempDir } from '../helpers/fixtures.js';
import { freePort } from './harness/ports.js';
import { buildOciImage } from './harness/oci.js';
import { inspect, push } from './harness/skopeo.js';
import { SERVICE, startRegauthProcess, startStack, type Stack } from './harness/stack.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/ext');

const quiet = () =>
  createLogger({
    destination: new Writable({
      write(_c, _e, cb) {
        cb();
      },
    }),
  });

/**
 * regauth whose only authenticator is ext_auth (test/fixtures/ext/auth.sh) and whose
 * authorizers are the ACL then ext_authz (authz.sh: allows common/*), with keys made by
 * `regauth keys init`; the real registry trusts the bundle that command wrote.
 */
describe('ext_auth and ext_authz against docker-registry and skopeo', () => {
  const tmp = tempDir('regauth-e2e-ext-');
  const alice = randomPassword();
  let s: Stack;

  beforeAll(async () => {
    const keys = await keysInit(join(tmp.dir, 'keys'));
    const users = join(tmp.dir, 'users.txt');
    writeFileSync(users, `alice ${alice} devs\nbob ${randomPassword()} ops\n`);
    s = await startStack({
      name: 'ext',
      tmp,
      keys: { keyPath: keys.key, certPath: keys.certificate, bundlePath: keys.bundle },
      config: `ext_auth: {command: ${join(FIXTURES, 'auth.sh')}, args: [${users}], timeout: 10}
ext_authz: {command: ${join(FIXTURES, 'authz.sh')}, timeout: 10}
acl:
  - match: {account: "/.+/", name: "\${account}/**"}
    actions: ["*"]
    comment: own namespace
  - match: {labels: {group: devs}, name: "team/*"}
    actions: ["*"]
    comment: devs own team
`,
    });
  });
  afterAll(async () => {
    await s?.stop();
    tmp.cleanup();
  });

  test('regauth doctor finds nothing wrong with the running registry', () => {
    const checks = diagnose(loadConfigFile(s.configFile), readRegistryConfig(s.registry.configPath));
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  });

  test.each([
    ['an ACL rule (own namespace)', 'alice/app'],
    ['a label that ext_auth reported (group devs)', 'team/app'],
    ['ext_authz, for a scope no ACL rule matches', 'common/app'],
  ])('a user authenticated by ext_auth pushes, allowed by %s', async (_name, repo) => {
    const image = await buildOciImage(join(tmp.dir, `img-${repo.replace('/', '-')}`), 'v1');
    const creds = { user: 'alice', password: alice };
    const pushed = await push(image.ref, s.registry.host, repo, 'v1', creds);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const seen = await inspect(s.registry.host, repo, 'v1', creds);
    expect(seen.digest).toBe(image.digest);
  });

  test('ext_authz denies (exit 1) a scope no ACL rule matches: the push fails', async () => {
    const image = await buildOciImage(join(tmp.dir, 'img-private'), 'v1');
    const pushed = await push(image.ref, s.registry.host, 'private/app', 'v1', {
      user: 'alice',
      password: alice,
    });
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toMatch(/denied|unauthorized|authentication required/i);
  });

  test('a wrong password (exit 1) is refused', async () => {
    const result = await inspect(s.registry.host, 'alice/app', 'v1', { user: 'alice', password: 'wrong' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/401|unauthorized|authentication/i);
  });
});

describe('a failing or hanging ext command is 503, never a grant', () => {
  const tmp = tempDir('regauth-e2e-ext-fail-');
  const services: Service[] = [];
  afterAll(async () => {
    await Promise.all(services.map((s) => s.close(100)));
    tmp.cleanup();
  });

  async function start(name: string, section: string): Promise<Service> {
    const keys = await keysInit(join(tmp.dir, `keys-${name}`));
    const configFile = join(tmp.dir, `${name}.yml`);
    writeFileSync(
      configFile,
      `server: {addr: "127.0.0.1:0"}
token: {issuer: x, key: ${keys.key}, certificate: ${keys.certificate}}
users:
  "": {}
${section}
`,
    );
    const service = await startService({ configFile, logger: quiet(), dataDir: join(tmp.dir, 'data') });
    services.push(service);
    return service;
  }

  test.each([
    ['ext_auth exits 3', `ext_auth: {command: ${join(FIXTURES, 'exit.sh')}, args: ["3"]}`, 'alice'],
    [
      'ext_auth hangs past its timeout',
      `ext_auth: {command: ${join(FIXTURES, 'hang.sh')}, timeout: 1}`,
      'alice',
    ],
    ['ext_authz exits 2', `ext_authz: {command: ${join(FIXTURES, 'exit.sh')}, args: ["2"]}`, ''],
    [
      'ext_authz hangs past its timeout',
      `ext_authz: {command: ${join(FIXTURES, 'hang.sh')}, timeout: 1}`,
      '',
    ],
  ])('%s', async (name, section, account) => {
    const service = await start(name.replace(/\W+/g, '-'), section);
    const headers: Record<string, string> =
      account === '' ? {} : { authorization: basic(account, randomPassword()) };
    const res = await fetch(`${service.url}/auth?service=${SERVICE}&scope=repository:any/app:pull,push`, {
      headers,
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { errors: { code: string }[]; token?: string };
    expect(body.token).toBeUndefined();
    expect(res.headers.get('retry-after')).not.toBeNull();
  });
});

/** True while a process exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('SIGTERM with an ext command in flight (the built CLI)', () => {
  const tmp = tempDir('regauth-e2e-ext-term-');
  beforeAll(() => ensureBuilt());
  afterAll(() => tmp.cleanup());

  /** regauth serve with `ext_auth` running `script args…`; a request is in flight when it returns. */
  async function serveWithCommandInFlight(name: string, script: string, args: string[], pidFile: string) {
    const keys = await keysInit(join(tmp.dir, `keys-${name}`));
    const port = await freePort();
    const configFile = join(tmp.dir, `${name}.yml`);
    writeFileSync(
      configFile,
      `server: {addr: "127.0.0.1:${port}"}
token: {issuer: x, key: ${keys.key}, certificate: ${keys.certificate}}
ext_auth: {command: ${join(FIXTURES, script)}, args: ${JSON.stringify(args)}, timeout: 60}
acl: []
`,
    );
    const url = `http://127.0.0.1:${port}`;
    const regauth = await startRegauthProcess(configFile, url, {
      cwd: tmp.dir,
      timeoutMs: 20_000,
      stopTimeoutMs: 20_000,
    });
    const answer = fetch(`${url}/auth?service=x`, {
      headers: { authorization: basic('alice', randomPassword()) },
    }).then(
      (res) => res.status,
      () => 'no answer',
    );
    await expect
      .poll(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', { timeout: 10_000 })
      .toBe(true);
    return { regauth, answer, leftover: Number(readFileSync(pidFile, 'utf8')) };
  }

  test('regauth waits for the command, answers, then exits 0 leaving nothing behind', async () => {
    const pidFile = join(tmp.dir, 'slow.pid');
    const { regauth, answer, leftover } = await serveWithCommandInFlight(
      'slow',
      'slow.sh',
      ['2', pidFile],
      pidFile,
    );
    expect(isAlive(leftover)).toBe(true);
    const status = await regauth.stop();
    expect(status.code).toBe(0);
    expect(await answer).toBe(200);
    expect(isAlive(leftover)).toBe(false);
  }, 40_000);

  test('a command still running when the grace period ends is killed with what it started', async () => {
    const pidFile = join(tmp.dir, 'hang.pid');
    const { regauth, leftover } = await serveWithCommandInFlight(
      'hang',
      'setsid.sh',
      [pidFile, 'hang'],
      pidFile,
    );
    const status = await regauth.stop();
    expect(status.code).toBe(0);
    expect(isAlive(leftover)).toBe(false);
  }, 40_000);
});
