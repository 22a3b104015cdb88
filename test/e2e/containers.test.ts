import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { dump, load as parseYaml } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import {
  buildImage,
  ensureBaseImages,
  progress,
  startEngine,
  waitHealthy,
  type DockerEngine,
} from './harness/docker.js';
import { REPO_ROOT } from './harness/deploy.js';
import { freePort } from './harness/ports.js';
import { runCommand, waitFor, type RunResult } from './harness/proc.js';
import { skopeo } from './harness/skopeo.js';

/**
 * The container image and compose/compose.yml, for real, on a Docker engine (see
 * harness/docker.ts: DOCKER_HOST, else a private dockerd as root). The image is built from the
 * Dockerfile; the compose file runs as shipped, on https://localhost (port 443 of this host),
 * with the sample accounts of compose/regauth/*.yml and compose/ldap/sample.ldif.
 */

const COMPOSE_DIR = join(REPO_ROOT, 'compose');
const COMPOSE_FILE = join(COMPOSE_DIR, 'compose.yml');
const composeDoc = parseYaml(readFileSync(COMPOSE_FILE, 'utf8')) as {
  services: Record<string, { image?: string; networks?: { default?: { ipv4_address?: string } } }>;
  networks: { default: { ipam: { config: { subnet: string }[] } } };
};
const REGAUTH_IMAGE = composeDoc.services['regauth']!.image!;
const LDAP_IMAGE = composeDoc.services['ldap']!.image!;
const HAPROXY_IP = composeDoc.services['haproxy']!.networks!.default!.ipv4_address!;
/** compose v1 project names: lower-case letters and digits. */
const PROJECT = `regauthe2e${process.pid}`;
const SOLO = `${PROJECT}-solo`;
/** The sample accounts of compose/regauth/config.yml and compose/ldap/sample.ldif. */
const ALICE = { user: 'alice', password: 'alice-password' };
const BOB_LDAP = { user: 'bob', password: 'bob-password' };

let engine: DockerEngine | undefined;
const tmp = tempDir('regauth-containers-');
let clientConfig = '';
let tlsCa: Buffer | undefined;

const docker = (): DockerEngine => {
  if (!engine) throw new Error('no Docker engine (see beforeAll)');
  return engine;
};

/** docker-compose on compose/compose.yml as shipped; the project name keeps runs apart. */
function compose(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000): Promise<RunResult> {
  return runCommand('docker-compose', ['-p', PROJECT, '-f', COMPOSE_FILE, ...args], {
    cwd: COMPOSE_DIR,
    env: { ...docker().env, REGAUTH_CONFIG: undefined, ...env },
    timeoutMs,
  });
}

async function composeOk(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs?: number): Promise<string> {
  const r = await compose(args, env, timeoutMs);
  if (r.code !== 0)
    throw new Error(`docker-compose ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The docker CLI as a user runs it, with this test's own client config (credentials). */
function cli(args: string[], input?: string): Promise<RunResult> {
  return docker().docker(args, { env: { DOCKER_CONFIG: clientConfig }, input, timeoutMs: 180_000 });
}

interface Reply {
  status: number;
  body: string;
}

/** HTTPS to the compose stack's published 443, as `localhost` (verified once the CA is known). */
function https(path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: 443,
        path,
        servername: 'localhost',
        headers: { host: 'localhost', ...headers },
        ...(tlsCa ? { ca: tlsCa } : { rejectUnauthorized: false }),
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function plainHttp(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return fetch(`http://127.0.0.1:${port}${path}`, { headers, signal: AbortSignal.timeout(10_000) }).then(
    async (r) => ({ status: r.status, body: await r.text() }),
  );
}

/** The JSON audit lines regauth's containers logged (all replicas). */
async function auditLines(): Promise<Record<string, unknown>[]> {
  const out = await composeOk(['logs', '--no-color', 'regauth']);
  return out
    .split('\n')
    .map((line) => line.slice(line.indexOf('|') + 1).trim())
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A one-layer image with random content, so every push uploads a new blob. */
async function tinyImage(tag: string): Promise<void> {
  const dir = join(tmp.dir, `image-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'hello.txt'), `hello ${randomBytes(16).toString('hex')}\n`);
  const tarball = `${dir}.tar`;
  const r = await runCommand('tar', ['-cf', tarball, '-C', dir, '.'], { timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  await docker().dockerOk(['import', tarball, tag]);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

beforeAll(async () => {
  engine = await startEngine();
  progress(`Docker engine: ${engine.description}`);
  clientConfig = join(tmp.dir, 'docker-client');
  mkdirSync(clientConfig);
  await ensureBaseImages(engine);
  await buildImage(engine, { context: REPO_ROOT, tag: REGAUTH_IMAGE });
  await buildImage(engine, { context: join(COMPOSE_DIR, 'ldap'), tag: LDAP_IMAGE });
}, 1_800_000);

afterAll(async () => {
  const problems: string[] = [];
  if (engine) {
    // Whatever a failed test left behind: the stack (every profile), the lone container, images.
    const down = await compose(['--profile', 'ldap', 'down', '-v', '--remove-orphans', '-t', '5']).catch(
      (e: Error) => ({ code: 1, stdout: '', stderr: e.message }),
    );
    if (down.code !== 0) problems.push(`docker-compose down: ${down.stderr}`);
    await engine.docker(['rm', '-f', SOLO]);
    await engine.docker(['network', 'rm', SOLO]);
    const images = await engine.docker(['images', '-q', '--filter', `reference=localhost/*/*`]);
    const ids = images.stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await engine.docker(['rmi', '-f', ...new Set(ids)]);
    try {
      await engine.stop();
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  tmp.cleanup();
  if (problems.length > 0) throw new Error(problems.join('\n'));
}, 300_000);

describe('the image, alone', { timeout: 300_000 }, () => {
  test('serves /healthz, /readyz and tokens as uid 1000 on a read-only root filesystem; HEALTHCHECK healthy', async () => {
    const e = docker();
    // A config with its signing key mounted read-only: the image then writes nothing.
    const dir = join(tmp.dir, 'solo');
    mkdirSync(join(dir, 'config'), { recursive: true });
    mkdirSync(join(dir, 'keys'));
    const key = await writeSigningKey(join(dir, 'keys'), 'ES256');
    chownSync(key.keyPath, 1000, 1000);
    const password = randomPassword();
    writeFileSync(
      join(dir, 'config', 'config.yml'),
      dump({
        server: { addr: ':5001' },
        token: {
          issuer: 'solo',
          key: `/keys/${key.keyPath.split('/').pop()}`,
          certificate: `/keys/${key.certPath.split('/').pop()}`,
        },
        users: { alice: { password: hash(password) } },
        acl: [{ match: { account: 'alice' }, actions: ['pull'] }],
      }),
    );
    const port = await freePort();
    // A network of its own: the private engine has no default bridge (--bridge=none).
    await e.dockerOk(['network', 'create', SOLO]);
    await e.dockerOk([
      'run',
      '-d',
      '--name',
      SOLO,
      '--network',
      SOLO,
      '--read-only',
      // The image's own HEALTHCHECK command, checked every second instead of every 30.
      '--health-interval',
      '1s',
      '-p',
      `127.0.0.1:${port}:5001`,
      '-v',
      `${join(dir, 'config')}:/config:ro`,
      '-v',
      `${join(dir, 'keys')}:/keys:ro`,
      REGAUTH_IMAGE,
    ]);
    await waitFor(
      async () => (await plainHttp(port, '/healthz')).status === 200,
      60_000,
      'the lone container to answer /healthz',
      { intervalMs: 500 },
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${(await e.docker(['logs', SOLO])).stderr}`);
    });
    expect((await plainHttp(port, '/readyz')).status).toBe(200);

    const reply = await plainHttp(port, '/auth?service=solo&scope=repository:alice/app:pull', {
      authorization: basic('alice', password),
    });
    expect(reply.status).toBe(200);
    const token = (JSON.parse(reply.body) as { token: string }).token;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
      iss: string;
      sub: string;
      access: unknown;
    };
    expect(claims).toMatchObject({
      iss: 'solo',
      sub: 'alice',
      access: [{ type: 'repository', name: 'alice/app', actions: ['pull'] }],
    });
    expect(
      (await plainHttp(port, '/auth?service=solo', { authorization: basic('alice', 'wrong') })).status,
    ).toBe(401);

    // The server process itself (pid 1) runs as the image's `node` user.
    const status = await e.dockerOk(['exec', SOLO, 'cat', '/proc/1/status']);
    expect(/^Uid:\s+(\d+)\s+(\d+)/m.exec(status)?.slice(1)).toEqual(['1000', '1000']);
    // node itself, with the ENTRYPOINT's flags for V8's young and old generations (less memory)
    // and its helper threads (less CPU).
    const cmdline = (await e.dockerOk(['exec', SOLO, 'cat', '/proc/1/cmdline'])).split('\0');
    expect(cmdline.slice(0, 4)).toEqual([
      'node',
      '--max-semi-space-size=8',
      '--heap-growing-percent=100',
      '--v8-pool-size=2',
    ]);
    const write = await e.docker(['exec', SOLO, 'sh', '-c', 'echo x > /app/data/probe']);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/read-only file system/i);

    await waitHealthy(e, SOLO, 60_000);
    await e.dockerOk(['rm', '-f', SOLO]);
    await e.dockerOk(['network', 'rm', SOLO]);
  });

  test('run as another uid, a config naming no key is refused with the setting to give, not EACCES', async () => {
    // /app/data belongs to uid 1000: the development key cannot be written there by uid 4321.
    const dir = join(tmp.dir, 'other-uid');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'config.yml'),
      dump({ server: { addr: ':5001' }, token: { issuer: 'solo' }, users: {}, acl: [] }),
      { mode: 0o644 },
    );
    const r = await docker().docker([
      'run',
      '--rm',
      '--user',
      '4321',
      '-v',
      `${dir}:/config:ro`,
      REGAUTH_IMAGE,
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('token.key: not set');
    expect(r.stderr).toContain('/app/data/token.key (EACCES)');
    expect(r.stderr).toContain('uid 4321');
    expect(r.stderr).not.toMatch(/^regauth: EACCES/m);
  });

  test('holds no npm logs, cache or compile cache of its build', async () => {
    // npm ci in the runtime stage, as root, wrote its debug logs under /root/.npm/_logs (npm cache
    // clean keeps them), and node's compile cache for npm under /tmp.
    const shell = (command: string) =>
      docker().docker(['run', '--rm', '--user', 'root', '--entrypoint', 'sh', REGAUTH_IMAGE, '-c', command]);
    expect((await shell('ls -A /tmp')).stdout).toBe('');
    const npm = await shell('ls -A /root/.npm');
    expect(npm.code, npm.stdout).not.toBe(0);
    expect(npm.stderr).toMatch(/no such file/i);
  });
});

describe('compose/compose.yml as shipped', { timeout: 300_000 }, () => {
  test('comes up: HAProxy answers /v2/ with 401 and /auth with 200 on https://localhost', async () => {
    // The stack publishes port 443 (compose.yml `ports`); a free port cannot stand in for it,
    // since the registry's realm is https://localhost/auth.
    if (!(await portIsFree(443))) {
      throw new Error('port 443 of this host is taken; compose/compose.yml publishes HAProxy there');
    }
    progress('docker-compose up -d');
    await composeOk(['up', '-d']);
    await waitFor(
      async () =>
        (await https('/v2/')).status === 401 && (await https('/auth?service=localhost')).status === 200,
      120_000,
      'HAProxy to answer /v2/ with 401 and /auth with 200',
      { intervalMs: 1000 },
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${(await compose(['logs', '--no-color', '--tail', '50'])).stdout}`);
    });
    // The tls one-shot's certificate, verified from now on, for the name localhost.
    tlsCa = Buffer.from(await composeOk(['exec', '-T', 'haproxy', 'cat', '/tls/localhost.crt']));
    const v2 = await https('/v2/');
    expect(v2.status).toBe(401);
    const auth = await https('/auth?service=localhost');
    expect(auth.status).toBe(200);
    expect(JSON.parse(auth.body)).toHaveProperty('token');
    // regauth runs under an init (init: true), which reaps what ext commands leave behind.
    expect((await composeOk(['exec', '-T', 'regauth', 'cat', '/proc/1/comm'])).trim()).toBe('docker-init');
    // The one-shots ran once and exited 0.
    for (const oneShot of ['keys', 'tls']) {
      const ids = (await composeOk(['ps', '-q', oneShot])).trim();
      expect(ids, oneShot).not.toBe('');
      expect(
        (await docker().dockerOk(['inspect', '--format', '{{.State.ExitCode}}', ids])).trim(),
        oneShot,
      ).toBe('0');
    }
  });

  test('the docker CLI: login stores a refresh token, push, denied push, pull, logout, anonymous pull denied', async () => {
    const login = await cli(['login', 'localhost', '-u', ALICE.user, '--password-stdin'], ALICE.password);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('Login Succeeded');
    const configText = readFileSync(join(clientConfig, 'config.json'), 'utf8');
    const entry = (
      JSON.parse(configText) as { auths: Record<string, { auth?: string; identitytoken?: string }> }
    ).auths['localhost'];
    expect(entry?.identitytoken).toMatch(/^[\w-]+\.[\w-]*\.[\w-]+\.[\w-]+\.[\w-]+$/);
    // The user name only; no password in any form.
    expect(Buffer.from(entry?.auth ?? '', 'base64').toString('utf8')).toBe(`${ALICE.user}:`);
    expect(configText).not.toContain(ALICE.password);
    expect(configText).not.toContain(Buffer.from(`${ALICE.user}:${ALICE.password}`).toString('base64'));

    await tinyImage('localhost/alice/tiny:1');
    const push = await cli(['push', 'localhost/alice/tiny:1']);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/1: digest: sha256:[0-9a-f]{64}/);

    // bob's namespace: alice may not push there.
    await docker().dockerOk(['tag', 'localhost/alice/tiny:1', 'localhost/bob/tiny:1']);
    const denied = await cli(['push', 'localhost/bob/tiny:1']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/denied/i);

    // Pull with the stored (refresh) credential.
    await docker().dockerOk(['rmi', 'localhost/alice/tiny:1', 'localhost/bob/tiny:1']);
    const pull = await cli(['pull', 'localhost/alice/tiny:1']);
    expect(pull.code, pull.stderr).toBe(0);
    const grants = (await auditLines()).filter(
      (l) => l['account'] === 'alice' && l['grant'] === 'refresh_token' && l['outcome'] === 'granted',
    );
    expect(grants.length).toBeGreaterThan(0);

    const logout = await cli(['logout', 'localhost']);
    expect(logout.code, logout.stderr).toBe(0);
    const after = JSON.parse(readFileSync(join(clientConfig, 'config.json'), 'utf8')) as {
      auths?: Record<string, unknown>;
    };
    expect(after.auths?.['localhost']).toBeUndefined();

    await docker().dockerOk(['rmi', 'localhost/alice/tiny:1']);
    const anonymous = await cli(['pull', 'localhost/alice/tiny:1']);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/denied|unauthorized/i);
  });

  test('skopeo as a second client: copy out, push back, a wrong password refused', async () => {
    const certDir = join(tmp.dir, 'skopeo-certs');
    mkdirSync(certDir);
    writeFileSync(join(certDir, 'localhost.crt'), tlsCa ?? '');
    const layout = join(tmp.dir, 'skopeo-oci');
    const creds = `${ALICE.user}:${ALICE.password}`;
    const out = await skopeo([
      'copy',
      '--src-cert-dir',
      certDir,
      '--src-creds',
      creds,
      'docker://localhost/alice/tiny:1',
      `oci:${layout}:tiny`,
    ]);
    expect(out.code, out.stderr).toBe(0);
    const back = await skopeo([
      'copy',
      '--dest-cert-dir',
      certDir,
      '--dest-creds',
      creds,
      `oci:${layout}:tiny`,
      'docker://localhost/alice/copied:1',
    ]);
    expect(back.code, back.stderr).toBe(0);
    const inspect = await skopeo([
      'inspect',
      '--cert-dir',
      certDir,
      '--creds',
      `${ALICE.user}:wrong-password`,
      'docker://localhost/alice/copied:1',
    ]);
    expect(inspect.code).not.toBe(0);
    expect(inspect.stderr).toMatch(/unauthorized|401/i);
  });

  test('the audit line shows the address HAProxy saw, not HAProxy, and not a spoofed X-Forwarded-For', async () => {
    const clientId = `audit-${randomBytes(6).toString('hex')}`;
    const reply = await https(`/auth?service=localhost&client_id=${clientId}`, {
      authorization: basic(ALICE.user, ALICE.password),
      'x-forwarded-for': '203.0.113.9',
    });
    expect(reply.status).toBe(200);
    // The address of the compose network's gateway: docker-proxy forwards this host's
    // connections to the published port from there.
    const gateway = (
      await docker().dockerOk([
        'network',
        'inspect',
        '--format',
        '{{range .IPAM.Config}}{{.Gateway}}{{end}}',
        `${PROJECT}_default`,
      ])
    ).trim();
    const subnet = composeDoc.networks.default.ipam.config[0]!.subnet;
    const expected = gateway || subnet.replace(/\.0\/24$/, '.1');
    let line: Record<string, unknown> | undefined;
    await waitFor(
      async () => {
        line = (await auditLines()).find((l) => l['clientId'] === clientId);
        return line !== undefined;
      },
      20_000,
      'the audit line',
    );
    expect(line?.['client']).toEqual({ ip: expected, via: HAPROXY_IP });
    expect(JSON.stringify(line)).not.toContain('203.0.113.9');
    expect(JSON.stringify(line)).not.toContain(ALICE.password);
  });

  test('the ldap profile: regauth with ldap.yml logs an LDAP user in through the stack', async () => {
    progress('REGAUTH_CONFIG=ldap.yml docker-compose --profile ldap up -d');
    await composeOk(['--profile', 'ldap', 'up', '-d'], { REGAUTH_CONFIG: 'ldap.yml' });
    await waitFor(
      async () =>
        (await https('/auth?service=localhost', { authorization: basic(BOB_LDAP.user, BOB_LDAP.password) }))
          .status === 200,
      120_000,
      'regauth to log bob in from the directory',
      { intervalMs: 1000 },
    ).catch(async (err: Error) => {
      throw new Error(
        `${err.message}\n${(await compose(['logs', '--no-color', '--tail', '40', 'regauth', 'ldap'])).stdout}`,
      );
    });
    expect(
      (await https('/auth?service=localhost', { authorization: basic(BOB_LDAP.user, 'wrong-password') }))
        .status,
    ).toBe(401);
    // The directory answered, not a static user: the audit line names the LDAP backend.
    const ldapLogins = (await auditLines()).filter(
      (l) => l['account'] === BOB_LDAP.user && l['outcome'] === 'granted',
    );
    expect(ldapLogins.map((l) => l['authenticator'])).toContain('ldap_auth');

    const login = await cli(
      ['login', 'localhost', '-u', BOB_LDAP.user, '--password-stdin'],
      BOB_LDAP.password,
    );
    expect(login.code, login.stderr).toBe(0);
    // team/: developers only, a group bob has in the directory (sample.ldif).
    await tinyImage('localhost/team/ldap:1');
    const push = await cli(['push', 'localhost/team/ldap:1']);
    expect(push.code, push.stderr).toBe(0);
    const logout = await cli(['logout', 'localhost']);
    expect(logout.code, logout.stderr).toBe(0);
  });

  test('--scale regauth=3 behind HAProxy: every replica serves, a push works, the lockout is shared', async () => {
    progress('docker-compose up -d --scale regauth=3');
    // Back to config.yml (alice), three replicas.
    await composeOk(['up', '-d', '--scale', 'regauth=3']);
    const replicas = (await composeOk(['ps', '-q', 'regauth'])).split('\n').filter(Boolean);
    expect(replicas).toHaveLength(3);
    // HAProxy re-resolves `regauth` (hold valid 10s) and fills its server-template slots; keep
    // asking until each replica has logged a request of this test.
    const clientId = `scale-${randomBytes(6).toString('hex')}`;
    const served = new Set<string>();
    await waitFor(
      async () => {
        for (let i = 0; i < 6; i++) {
          await https(`/auth?service=localhost&client_id=${clientId}`, {
            authorization: basic(ALICE.user, ALICE.password),
          });
        }
        for (const id of replicas) {
          const logs = await docker().docker(['logs', id]);
          if ((logs.stdout + logs.stderr).includes(clientId)) served.add(id);
        }
        return served.size === 3;
      },
      90_000,
      'all three replicas to serve through HAProxy',
      { intervalMs: 2000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message} (served: ${served.size})`);
    });

    const login = await cli(['login', 'localhost', '-u', ALICE.user, '--password-stdin'], ALICE.password);
    expect(login.code, login.stderr).toBe(0);
    await tinyImage('localhost/alice/scaled:1');
    const push = await cli(['push', 'localhost/alice/scaled:1']);
    expect(push.code, push.stderr).toBe(0);
    await docker().dockerOk(['rmi', 'localhost/alice/scaled:1']);
    const pull = await cli(['pull', 'localhost/alice/scaled:1']);
    expect(pull.code, pull.stderr).toBe(0);

    // The lockout holds for the service: the replicas share their counts in the compose file's
    // Redis, so max_failures (5) wrong passwords spread by HAProxy over the three lock admin for
    // this client; per replica, no replica would have seen more than two.
    const lockId = `lock-${randomBytes(6).toString('hex')}`;
    const auth = (password: string) =>
      https(`/auth?service=localhost&client_id=${lockId}`, { authorization: basic('admin', password) });
    const failed: number[] = [];
    for (let i = 0; i < 5; i++) failed.push((await auth(`wrong-${i}`)).status);
    expect(failed).toEqual([401, 401, 401, 401, 401]);
    expect((await auth('change-me')).status).toBe(429);
    let spread = 0;
    for (const id of replicas) {
      const logs = await docker().docker(['logs', id]);
      if ((logs.stdout + logs.stderr).includes(lockId)) spread++;
    }
    expect(spread).toBeGreaterThanOrEqual(2);
  });

  test('the registry sees no private key; the documented rotation moves every replica to a new key', async () => {
    // What the registry container can read, on every volume and bind it mounts.
    const registry = (await composeOk(['ps', '-q', 'registry'])).trim();
    const mounts = JSON.parse(
      await docker().dockerOk(['inspect', '--format', '{{json .Mounts}}', registry]),
    ) as { Destination: string; Name?: string }[];
    const registryFiles = async (): Promise<string[]> => {
      const found: string[] = [];
      for (const m of mounts) {
        if (m.Destination === '/var/lib/registry') continue;
        const out = await composeOk(['exec', '-T', 'registry', 'find', m.Destination, '-type', 'f']);
        found.push(...out.split('\n').filter(Boolean));
      }
      return found;
    };
    const before = await registryFiles();
    expect(before.some((f) => f.endsWith('/bundle.pem'))).toBe(true);
    expect(before.filter((f) => /\.key$|refresh|secret/.test(f))).toEqual([]);
    expect(mounts.map((m) => m.Name ?? '')).not.toContain(`${PROJECT}_keys`);

    const kidOf = (token: string): string =>
      (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string }).kid;
    const tokenKid = async (): Promise<string> => {
      const r = await https('/auth?service=localhost', { authorization: basic(ALICE.user, ALICE.password) });
      expect(r.status).toBe(200);
      return kidOf((JSON.parse(r.body) as { token: string }).token);
    };
    const oldKid = await tokenKid();

    // docs/deployment.md, "The shared keys volume and key rotation", step by step.
    progress('key rotation through the stack');
    const rotate = await composeOk([
      'run',
      '--rm',
      '--user',
      'node',
      'keys',
      'regauth keys rotate --dir /keys --publish /trust',
    ]);
    expect(rotate).toContain('/trust/bundle.pem');
    expect((await registryFiles()).filter((f) => /\.key$/.test(f))).toEqual([]);
    await composeOk(['restart', 'registry']);
    const activate = await composeOk([
      'run',
      '--rm',
      '--user',
      'node',
      'keys',
      'regauth keys activate --dir /keys --publish /trust',
    ]);
    const newKid = /now the key with kid (\S+);/.exec(activate)?.[1];
    expect(newKid).toBeDefined();
    expect(newKid).not.toBe(oldKid);
    // Every replica reloads on the rename; HAProxy spreads the requests over all three.
    await waitFor(
      async () => {
        for (let i = 0; i < 9; i++) if ((await tokenKid()) !== newKid) return false;
        return true;
      },
      60_000,
      'every replica to sign with the new key',
      { intervalMs: 1000 },
    );
    expect((await registryFiles()).filter((f) => /\.key$|refresh/.test(f))).toEqual([]);

    // The registry, restarted once, accepts tokens of the new key: a push and a pull.
    const login = await cli(['login', 'localhost', '-u', ALICE.user, '--password-stdin'], ALICE.password);
    expect(login.code, login.stderr).toBe(0);
    await tinyImage('localhost/alice/rotated:1');
    const push = await cli(['push', 'localhost/alice/rotated:1']);
    expect(push.code, push.stderr).toBe(0);
    await docker().dockerOk(['rmi', 'localhost/alice/rotated:1']);
    const pull = await cli(['pull', 'localhost/alice/rotated:1']);
    expect(pull.code, pull.stderr).toBe(0);
  });

  test('docker-compose down -v leaves nothing of the project', async () => {
    progress('docker-compose down -v');
    await composeOk(['--profile', 'ldap', 'down', '-v', '--remove-orphans', '-t', '5']);
    const label = `label=com.docker.compose.project=${PROJECT}`;
    expect((await docker().dockerOk(['ps', '-aq', '--filter', label])).trim()).toBe('');
    expect((await docker().dockerOk(['volume', 'ls', '-q', '--filter', label])).trim()).toBe('');
    expect((await docker().dockerOk(['network', 'ls', '-q', '--filter', label])).trim()).toBe('');
    await expect(https('/v2/')).rejects.toThrow();
  });
});
