import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { dump, load as parseYaml } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';
import { selfSignedCert } from './harness/certs.js';
import { startRedis, type RedisPeer } from './harness/redis.js';
import {
  dockerBuildContext,
  installPackage,
  REPO_ROOT,
  startHaproxy,
  startRegistryFromFile,
  type FileRegistry,
  type Haproxy,
} from './harness/deploy.js';
import { buildOciImage } from './harness/oci.js';
import { imageNodeFlags } from '../helpers/image.js';
import { freePort } from './harness/ports.js';
import { runCommand, startProcess, waitFor, type ProcessHandle } from './harness/proc.js';
import { inspect, pull, push } from './harness/skopeo.js';

/**
 * The deployment of compose/compose.yml without a Docker engine: regauth as the image holds it
 * (the packed package with production dependencies only, see Dockerfile), the registry with
 * compose/registry/config.yml, HAProxy with examples/haproxy.cfg, and regauth's config derived
 * from compose/regauth/config.yml (addresses, key paths and users changed for the test).
 */

/** Not 127.0.0.1: a second loopback address, so the client HAProxy reports differs from HAProxy. */
const OTHER_CLIENT = '127.0.0.5';

interface Setup {
  tmp: ReturnType<typeof tempDir>;
  appDir: string;
  regauth: ProcessHandle;
  regauthUrl: string;
  registry: FileRegistry;
  haproxy: Haproxy;
  service: string;
  passwords: { alice: string; bob: string };
  redis: RedisPeer;
}

let s: Setup | undefined;
const setup = (): Setup => {
  if (!s) throw new Error('setup failed');
  return s;
};

beforeAll(async () => {
  const tmp = tempDir('regauth-deploy-');
  const { appDir, cli } = await installPackage(tmp.dir);

  // The names `regauth keys init --dir /keys` writes, as the compose configs expect them.
  const keysDir = join(tmp.dir, 'keys');
  mkdirSync(keysDir);
  const generated = await writeSigningKey(keysDir, 'ES256');
  renameSync(generated.keyPath, join(keysDir, 'token.key'));
  renameSync(generated.certPath, join(keysDir, 'token.pem'));

  const registryConfig = parseYaml(readFileSync(join(REPO_ROOT, 'compose/registry/config.yml'), 'utf8')) as {
    auth: { token: { service: string } };
  };
  const service = registryConfig.auth.token.service;

  const regauthPort = await freePort();
  const passwords = { alice: randomPassword(), bob: randomPassword() };
  const config = parseYaml(readFileSync(join(REPO_ROOT, 'compose/regauth/config.yml'), 'utf8')) as {
    server: Record<string, unknown>;
    token: Record<string, unknown>;
    users: Record<string, unknown>;
    acl: unknown[];
    store: { type: string; url: string };
  };
  config.server['addr'] = `127.0.0.1:${regauthPort}`;
  // The compose stack's Redis (`redis://redis:6379/0`): a real one on a free loopback port.
  expect(config.store.type).toBe('redis');
  const redis = await startRedis({ dir: join(tmp.dir, 'redis') });
  config.store.url = redis.url;
  // HAProxy reaches regauth from 127.0.0.1; in compose this is the compose network.
  config.server['trusted_proxies'] = ['127.0.0.1'];
  config.token['key'] = join(keysDir, 'token.key');
  config.token['certificate'] = join(keysDir, 'token.pem');
  // What the `keys` one-shot makes next to the signing key: the refresh-token secret.
  const refresh = config.token['refresh'] as { secret_file: string };
  expect(refresh.secret_file).toBe('/keys/refresh.key');
  refresh.secret_file = join(keysDir, 'refresh.key');
  writeFileSync(refresh.secret_file, randomBytes(48).toString('base64'), { mode: 0o600 });
  config.users = {
    alice: { password: hash(passwords.alice), labels: { group: ['developers'] } },
    bob: { password: hash(passwords.bob) },
    '': {},
  };
  config.acl.unshift({
    match: { account: 'alice', ip: `${OTHER_CLIENT}/32`, name: 'from-other/**' },
    actions: ['pull'],
    comment: 'only from the other client address',
  });
  const configFile = join(tmp.dir, 'config.yml');
  writeFileSync(configFile, dump(config));

  const regauthUrl = `http://127.0.0.1:${regauthPort}`;
  const workDir = join(tmp.dir, 'work');
  mkdirSync(workDir);
  const regauth = await startProcess('node', [...imageNodeFlags(REPO_ROOT), cli, 'serve', '-c', configFile], {
    cwd: workDir,
    name: 'regauth',
    timeoutMs: 20_000,
    readyWhen: async () => (await fetch(`${regauthUrl}/healthz`, { signal: AbortSignal.timeout(2000) })).ok,
  });
  const haproxyPort = await freePort();
  const registry = await startRegistryFromFile({
    configPath: join(REPO_ROOT, 'compose/registry/config.yml'),
    realm: `http://127.0.0.1:${haproxyPort}/auth`,
    rootCertBundlePath: join(keysDir, 'token.pem'),
  });
  const haproxy = await startHaproxy({
    configPath: join(REPO_ROOT, 'examples/haproxy.cfg'),
    port: haproxyPort,
    env: { REGISTRY_ADDR: registry.host, REGAUTH_ADDR: `127.0.0.1:${regauthPort}` },
  });
  s = { tmp, appDir, regauth, regauthUrl, registry, haproxy, redis, service, passwords };
}, 300_000);

afterAll(async () => {
  await s?.haproxy.stop();
  await s?.registry.stop();
  await s?.regauth.stop();
  await s?.redis.stop();
  s?.tmp.cleanup();
});

/** GET through HAProxy from a chosen local address (fetch cannot pick one). */
function getFrom(
  localAddress: string,
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function claims(token: string): { access: { type: string; name: string; actions: string[] }[] } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as ReturnType<
    typeof claims
  >;
}

describe('the image contents', () => {
  test('only the package files and production dependencies', () => {
    const { appDir } = setup();
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const dep of Object.keys(pkg.dependencies))
      expect(existsSync(join(appDir, 'node_modules', dep))).toBe(true);
    for (const dep of Object.keys(pkg.devDependencies)) {
      expect(existsSync(join(appDir, 'node_modules', dep)), dep).toBe(false);
    }
    for (const absent of ['src', 'test', 'tsconfig.json'])
      expect(existsSync(join(appDir, absent)), absent).toBe(false);
    for (const present of ['dist/cli/main.js', 'examples/haproxy.cfg', 'config.example.yml']) {
      expect(existsSync(join(appDir, present)), present).toBe(true);
    }
  });

  test('the Dockerfile installs it the same way and runs it as the test does', () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtimeStage).toContain('npm ci --omit=dev --ignore-scripts');
    expect(dockerfile).toContain('npm pack --ignore-scripts');
    expect(runtimeStage).toMatch(/^USER node$/m);
    expect(runtimeStage).toMatch(/^EXPOSE 5001$/m);
    // node with the image's flags and the CLI, as this test starts it.
    expect(runtimeStage).toMatch(/^ENTRYPOINT \["node", (?:"--[^"]+", )*"\/app\/dist\/cli\/main\.js"\]$/m);
    expect(runtimeStage).toMatch(/^CMD \["serve", "-c", "\/config\/config.yml"\]$/m);
    // Every file the build stage copies is in the build context that .dockerignore lets through
    // (the same context installPackage() built from).
    const context = dockerBuildContext();
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '));
    expect(copied.length).toBeGreaterThan(0);
    for (const source of copied) expect(context, source).toContain(source);
  });

  test("the Dockerfile's HEALTHCHECK passes against the running server and fails without one", async () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const cmd = /^HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])$/m.exec(dockerfile);
    expect(cmd).not.toBeNull();
    const [exe, ...args] = JSON.parse(cmd![1]!) as string[];
    expect(exe).toBe('node');
    const healthy = await runCommand(exe!, args, {
      env: { REGAUTH_HEALTHCHECK_URL: `${setup().regauthUrl}/healthz` },
      timeoutMs: 20_000,
    });
    expect(healthy.code).toBe(0);
    const closed = await runCommand(exe!, args, {
      env: { REGAUTH_HEALTHCHECK_URL: `http://127.0.0.1:${await freePort()}/healthz` },
      timeoutMs: 20_000,
    });
    expect(closed.code).toBe(1);
  });

  test("the Dockerfile's HEALTHCHECK gives up after 4 s, however slowly the server answers", async () => {
    // Found by a review of e5e9776: http.get's timeout bounds only a silent socket, so a server
    // sending its status line a byte a second kept the probe running past its 4 s (and had it
    // report healthy once the line was complete).
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const [exe, ...args] = JSON.parse(
      /^HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])$/m.exec(dockerfile)![1]!,
    ) as string[];
    const reply = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
    const sockets = new Set<Socket>();
    const trickle = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      let sent = 0;
      const timer = setInterval(
        () => (sent < reply.length ? socket.write(reply[sent++]!) : clearInterval(timer)),
        1000,
      );
      socket.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((r) => trickle.listen(0, '127.0.0.1', r));
    try {
      const started = Date.now();
      const probe = await runCommand(exe!, args, {
        env: {
          REGAUTH_HEALTHCHECK_URL: `http://127.0.0.1:${(trickle.address() as AddressInfo).port}/healthz`,
        },
        timeoutMs: 30_000,
      });
      expect(probe.code).toBe(1);
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      for (const socket of sockets) socket.destroy();
      trickle.close();
    }
  });

  test("the Dockerfile's HEALTHCHECK passes against a server that serves TLS itself", async () => {
    // Found by a review: with server.certificate and server.key regauth serves https, and the
    // check's fetch refused its certificate (self-signed, or not naming 127.0.0.1): never healthy.
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const [exe, ...args] = JSON.parse(
      /^HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])$/m.exec(dockerfile)![1]!,
    ) as string[];
    const dir = tempDir('regauth-tls-health-');
    try {
      const tls = await selfSignedCert(dir.dir, 'server', '/CN=registry.example');
      const srv = await startTestServer({
        dir: dir.dir,
        config: ({ keyPath, certPath }) =>
          `server: {addr: "127.0.0.1:0", certificate: ${tls.certPath}, key: ${tls.keyPath}}\ntoken: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nusers: {}\nacl: []\n`,
      });
      try {
        expect(srv.url).toMatch(/^https:/);
        const healthy = await runCommand(exe!, args, {
          env: { REGAUTH_HEALTHCHECK_URL: `${srv.url}/healthz` },
          timeoutMs: 20_000,
        });
        expect(healthy.code, healthy.stderr).toBe(0);
        // Plain http to the TLS port is no answer.
        const plain = await runCommand(exe!, args, {
          env: { REGAUTH_HEALTHCHECK_URL: `${srv.url.replace('https:', 'http:')}/healthz` },
          timeoutMs: 20_000,
        });
        expect(plain.code).toBe(1);
      } finally {
        await srv.server.close(100);
      }
    } finally {
      dir.cleanup();
    }
  });
});

describe('push and pull through HAProxy (examples/haproxy.cfg)', () => {
  test('a push to one own namespace, and a pull of it back', async () => {
    const { tmp, haproxy, passwords } = setup();
    const creds = { user: 'alice', password: passwords.alice };
    const image = await buildOciImage(join(tmp.dir, 'img-alice'), 'v1');
    const pushed = await push(image.ref, haproxy.host, 'alice/app', 'v1', creds);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const pulled = await pull(haproxy.host, 'alice/app', 'v1', join(tmp.dir, 'pulled'), creds);
    expect(pulled.code).toBe(0);
    const index = JSON.parse(readFileSync(join(tmp.dir, 'pulled', 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    expect(index.manifests.map((m) => m.digest)).toContain(image.digest);
  });

  test('a push to another namespace is denied', async () => {
    const { tmp, haproxy, passwords } = setup();
    const image = await buildOciImage(join(tmp.dir, 'img-bob'), 'v1');
    const pushed = await push(image.ref, haproxy.host, 'alice/bob-was-here', 'v1', {
      user: 'bob',
      password: passwords.bob,
    });
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toMatch(/denied|unauthorized|authentication required/i);
  });

  test('an anonymous pull of public/, as the compose config allows', async () => {
    const { haproxy } = setup();
    const result = await inspect(haproxy.host, 'public/none', 'v1');
    // Authorized but absent: the registry answers "manifest unknown", not "unauthorized".
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/manifest unknown|not found/i);
    expect(result.stderr).not.toMatch(/unauthorized|authentication required/i);
  });

  test('paths other than the registry and the token endpoint answer 404', async () => {
    const { haproxy } = setup();
    for (const path of ['/healthz', '/metrics', '/']) {
      const res = await fetch(`${haproxy.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
    }
    expect((await fetch(`${haproxy.url}/.well-known/jwks.json`)).status).toBe(200);
  });

  test('the HAProxy log holds the path of /oidc/ requests, never their query (the code is a bearer secret)', async () => {
    const { haproxy, regauth } = setup();
    const code = `code-${randomPassword()}`;
    const state = `state-${randomPassword()}`;
    const res = await fetch(`${haproxy.url}/oidc/callback?code=${code}&state=${state}`);
    await res.arrayBuffer();
    // Other requests keep their query in the log.
    const marker = `marker-${randomPassword()}`;
    await (await fetch(`${haproxy.url}/v2/?${marker}`)).arrayBuffer();
    await waitFor(() => haproxy.logs().includes(marker), 5000, 'the HAProxy log line of the marker request');
    const lines = haproxy.logs().split('\n');
    expect(lines.some((l) => l.includes('GET /oidc/callback '))).toBe(true);
    for (const secret of [code, state]) {
      expect(haproxy.logs()).not.toContain(secret);
      expect(regauth.logs()).not.toContain(secret);
    }
  });
});

describe('X-Forwarded-For from the trusted proxy', () => {
  const scope = 'repository:from-other/app:pull';

  test.each([
    [OTHER_CLIENT, ['pull']],
    ['127.0.0.1', []],
  ] as const)('a client at %s is granted %j by the ip rule', async (address, granted) => {
    const { haproxy, service, passwords } = setup();
    const res = await getFrom(
      address,
      `${haproxy.url}/auth?service=${service}&scope=${encodeURIComponent(scope)}`,
      { authorization: `Basic ${Buffer.from(`alice:${passwords.alice}`).toString('base64')}` },
    );
    expect(res.status).toBe(200);
    const access = claims((JSON.parse(res.body) as { token: string }).token).access;
    expect(access.flatMap((a) => a.actions)).toEqual(granted);
  });

  test('a client cannot claim an address: HAProxy drops the X-Forwarded-For it sent', async () => {
    // The client connects from 127.0.0.1, an address regauth trusts (as Docker's gateway would be
    // in a trusted subnet); kept, its header would pass for the address HAProxy saw.
    const { haproxy, service, passwords } = setup();
    const res = await getFrom(
      '127.0.0.1',
      `${haproxy.url}/auth?service=${service}&scope=${encodeURIComponent(scope)}`,
      {
        authorization: `Basic ${Buffer.from(`alice:${passwords.alice}`).toString('base64')}`,
        'x-forwarded-for': OTHER_CLIENT,
      },
    );
    expect(res.status).toBe(200);
    expect(
      claims((JSON.parse(res.body) as { token: string }).token).access.flatMap((a) => a.actions),
    ).toEqual([]);
  });

  test("regauth's log names the client and the proxy it came through", async () => {
    const { regauth, passwords } = setup();
    const issued = () =>
      regauth
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map(
          (l) =>
            JSON.parse(l) as {
              msg: string;
              client?: { ip: string | null; via: string | null };
              requested?: string[];
            },
        )
        .filter((l) => l.msg.startsWith('token issued') && l.requested?.includes(scope));
    // regauth logs after it has answered: the lines may trail the replies a little. (A request
    // granted nothing logs "token issued, every requested scope denied".)
    await waitFor(() => issued().length >= 2, 5000, 'two log lines for the ip rule requests');
    expect(issued()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ client: { ip: OTHER_CLIENT, via: '127.0.0.1' } }),
        expect.objectContaining({ client: { ip: '127.0.0.1', via: null } }),
      ]),
    );
    const all = regauth.logs();
    for (const p of Object.values(passwords)) expect(all).not.toContain(p);
  });
});
