import bcrypt from 'bcryptjs';
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { REPO_ROOT } from './harness/deploy.js';
import { buildOciImage } from './harness/oci.js';
import { freePort } from './harness/ports.js';
import { waitFor, type ProcessHandle } from './harness/proc.js';
import { inspect, push } from './harness/skopeo.js';
import {
  SERVICE,
  startRegauth,
  startRegauthProcess,
  startStack,
  type RegauthStack,
  type Stack,
} from './harness/stack.js';

const ISSUER = 'regauth ops e2e';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET from a chosen local address (127.0.0.2, 127.0.0.3: other clients as far as regauth can tell). */
function get(
  url: string,
  options: { localAddress?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(
      url,
      { localAddress: options.localAddress ?? '127.0.0.1', headers: options.headers ?? {}, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The `access` claim of a token (the registry checks the signature; here only what was granted matters). */
function accessOf(body: string): { type: string; name: string; actions: string[] }[] {
  const { token } = JSON.parse(body) as { token: string };
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
    access: { type: string; name: string; actions: string[] }[];
  };
  return payload.access;
}

/** A counter's value in Prometheus text, 0 when the series does not exist yet. */
function counter(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const BASE_ACL = `  - match: {account: "/.+/", name: "\${account}/**"}
    actions: ["*"]
    comment: own namespace
  - match: {account: carol, ip: 10.0.0.0/8, name: "internal/**"}
    actions: [pull]
    comment: internal network only
`;
const TEAM_RULE = `  - match: {account: bob, name: "team/**"}
    actions: [pull, push]
    comment: bob pushes to team
`;

/** Replaces the file the way editors do: write a temporary file, rename it over the old one. */
function saveLikeAnEditor(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

describe('operations against docker-registry and skopeo', () => {
  const passwords = { alice: randomPassword(), bob: randomPassword(), carol: randomPassword() };
  const users = Object.entries(passwords)
    .map(([u, p]) => `  ${u}:\n    password: "${hash(p)}"`)
    .join('\n');
  /** The config after the header: a lockout after three failures, the users, then `acl`. */
  const opsConfig = (acl: string) => `lockout:
  max_failures: 3
  backoff: 60
users:
${users}
acl:
${acl}
`;
  let s: Stack;

  const tokenUrl = (scope: string) =>
    `${s.regauth.url}/auth?service=${SERVICE}&scope=${encodeURIComponent(scope)}`;
  const metricsText = async () => (await get(`${s.regauth.url}/metrics`)).body;

  beforeAll(async () => {
    s = await startStack({
      name: 'ops',
      server: '  trusted_proxies: [127.0.0.1]',
      config: opsConfig(BASE_ACL),
    });
  });
  afterAll(() => s?.stop());

  test('an ACL edit applies within seconds without a restart', async () => {
    const bob = { user: 'bob', password: passwords.bob };
    const image = await buildOciImage(join(s.tmp.dir, 'img-team'), 'v1');
    expect((await push(image.ref, s.registry.host, 'team/app', 'v1', bob)).code).not.toBe(0);

    saveLikeAnEditor(s.configFile, s.configText({ config: opsConfig(BASE_ACL + TEAM_RULE) }));
    await waitFor(
      async () => {
        const reply = await get(tokenUrl('repository:team/app:pull,push'), {
          headers: { authorization: basic('bob', passwords.bob) },
        });
        return reply.status === 200 && accessOf(reply.body).length === 1;
      },
      10_000,
      'the new ACL rule to apply',
    );
    const pushed = await push(image.ref, s.registry.host, 'team/app', 'v1', bob);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(
      counter(await metricsText(), 'regauth_config_reloads_total{result="success"}'),
    ).toBeGreaterThanOrEqual(1);
  });

  test('an invalid edit keeps the old policy serving, and says where the error is', async () => {
    const failuresBefore = counter(await metricsText(), 'regauth_config_reloads_total{result="failure"}');
    saveLikeAnEditor(
      s.configFile,
      s.configText({
        config: opsConfig(BASE_ACL + TEAM_RULE + '  - match: {team: devs}\n    actions: [pull]\n'),
      }),
    );
    await waitFor(
      async () =>
        counter(await metricsText(), 'regauth_config_reloads_total{result="failure"}') > failuresBefore,
      10_000,
      'the failed reload',
    );
    expect(s.logs.join('')).toContain('"path":"acl[3].match.team","line":');
    const seen = await inspect(s.registry.host, 'team/app', 'v1', { user: 'bob', password: passwords.bob });
    expect(seen.code).toBe(0);
    // Put a valid file back so later tests start from a known policy.
    saveLikeAnEditor(s.configFile, s.configText({ config: opsConfig(BASE_ACL + TEAM_RULE) }));
    await waitFor(
      async () => counter(await metricsText(), 'regauth_config_reloads_total{result="success"}') >= 2,
      10_000,
      'the valid config to be reloaded',
    );
  });

  test('429 after the configured failures, while the same account from another address still logs in', async () => {
    const url = tokenUrl('repository:alice/app:pull');
    const wrong = { authorization: basic('alice', 'not-the-password') };
    const right = { authorization: basic('alice', passwords.alice) };
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await get(url, { localAddress: '127.0.0.2', headers: wrong })).status);
    expect(statuses).toEqual([401, 401, 401]);

    const locked = await get(url, { localAddress: '127.0.0.2', headers: right });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(locked.body)).toEqual({
      errors: [{ code: 'TOOMANYREQUESTS', message: 'too many failed attempts, retry later' }],
    });

    expect((await get(url, { localAddress: '127.0.0.3', headers: right })).status).toBe(200);
    // Through the trusted proxy (127.0.0.1), the client it names is another address too.
    const proxied = await get(url, { headers: { ...right, 'x-forwarded-for': '198.51.100.7' } });
    expect(proxied.status).toBe(200);
    expect(counter(await metricsText(), 'regauth_lockouts_total')).toBeGreaterThanOrEqual(1);
  });

  test('/metrics shows the counters moving', async () => {
    const granted = 'regauth_token_requests_total{outcome="granted",grant_type="password"}';
    const denied = 'regauth_token_requests_total{outcome="denied",grant_type="password"}';
    const deniedAll = 'regauth_token_requests_total{outcome="denied_all",grant_type="password"}';
    const before = await metricsText();
    expect(
      (
        await get(tokenUrl('repository:bob/x:pull'), {
          headers: { authorization: basic('bob', passwords.bob) },
        })
      ).status,
    ).toBe(200);
    expect(
      (await get(tokenUrl('repository:bob/x:pull'), { headers: { authorization: basic('bob', 'wrong') } }))
        .status,
    ).toBe(401);
    // alice asks for bob's namespace: no rule matches, a denial by "none"; a 200 granting nothing.
    await get(tokenUrl('repository:bob/x:pull'), {
      headers: { authorization: basic('alice', passwords.alice) },
    });
    const after = await metricsText();
    expect(counter(after, granted)).toBe(counter(before, granted) + 1);
    expect(counter(after, deniedAll)).toBe(counter(before, deniedAll) + 1);
    expect(counter(after, denied)).toBe(counter(before, denied) + 1);
    expect(counter(after, 'regauth_authz_denials_total{rule="none",comment=""}')).toBe(
      counter(before, 'regauth_authz_denials_total{rule="none",comment=""}') + 1,
    );
    expect(
      counter(after, 'regauth_authenticator_duration_seconds_count{backend="users",result="authenticated"}'),
    ).toBeGreaterThan(
      counter(before, 'regauth_authenticator_duration_seconds_count{backend="users",result="authenticated"}'),
    );
    expect(after).toContain('regauth_token_request_duration_seconds_bucket');
  });

  test.each([
    ['an untrusted peer’s forged X-Forwarded-For is ignored', '127.0.0.2', '10.1.1.1', [], '127.0.0.2'],
    ['the trusted proxy’s X-Forwarded-For is honoured', '127.0.0.1', '10.1.1.1', ['pull'], '10.1.1.1'],
    [
      'a forged left-most entry behind the trusted proxy never wins',
      '127.0.0.1',
      '10.1.1.1, 192.0.2.5',
      [],
      '192.0.2.5',
    ],
  ])('%s', async (_name, localAddress, xff, actions, auditedIp) => {
    const reply = await get(tokenUrl('repository:internal/tools:pull'), {
      localAddress,
      headers: { authorization: basic('carol', passwords.carol), 'x-forwarded-for': xff },
    });
    expect(reply.status).toBe(200);
    expect(accessOf(reply.body)).toEqual(
      actions.length ? [{ type: 'repository', name: 'internal/tools', actions }] : [],
    );
    const requestId = reply.headers['x-request-id'];
    const line = s.logs.find((l) => l.includes(String(requestId)));
    expect(JSON.parse(line!)).toMatchObject({ client: { ip: auditedIp }, account: 'carol' });
  });

  test('the audit log has one complete line per token request and no secret', () => {
    const all = s.logs.join('');
    for (const p of Object.values(passwords)) expect(all).not.toContain(p);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}/);
    const issued = s.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['msg'] === 'token issued, every requested scope denied');
    expect(issued.at(-1)).toMatchObject({
      requestId: expect.any(String),
      client: { ip: expect.any(String) },
      account: 'carol',
      authenticator: 'users',
      requested: ['repository:internal/tools:pull'],
      outcome: 'denied_all',
      decisions: [{ scope: 'repository:internal/tools:pull', granted: [], rule: null }],
      ms: expect.any(Number),
    });
  });
});

/**
 * The built regauth's config for the SIGTERM tests, in `dir`: one user with `hash`, JSON log lines,
 * a fresh key and a free port; `url` is where it will listen.
 */
async function serveConfig(
  dir: string,
  user: string,
  hash: string,
): Promise<{ configFile: string; url: string }> {
  ensureBuilt();
  const keys = await writeSigningKey(dir, 'ES256');
  const port = await freePort();
  const configFile = join(dir, 'config.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:${port}"}
token: {issuer: "${ISSUER}", key: ${keys.keyPath}, certificate: ${keys.certPath}}
log: {format: json}
users:
  ${user}: {password: "${hash}"}
acl: [{match: {}, actions: [pull]}]
`,
  );
  return { configFile, url: `http://127.0.0.1:${port}` };
}

describe('SIGTERM', () => {
  const tmp = tempDir('regauth-sigterm-');
  let regauth: ProcessHandle | undefined;
  afterAll(async () => {
    await regauth?.stop();
    tmp.cleanup();
  });

  test('a request in flight when SIGTERM arrives is still answered, then the process exits 0', async () => {
    const password = randomPassword();
    // A high bcrypt cost makes the request take a while: long enough to signal during it.
    const { configFile, url } = await serveConfig(tmp.dir, 'slow', bcrypt.hashSync(password, 13));
    regauth = await startRegauthProcess(configFile, url, { timeoutMs: 20_000 });

    const inFlight = get(`${url}/auth?service=${SERVICE}&scope=repository:a/b:pull`, {
      headers: { authorization: basic('slow', password) },
    });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(regauth.pid, 'SIGTERM');
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ token: expect.any(String) });
    expect(await regauth.exited).toEqual({ code: 0, signal: null });
    // The request was answered after the signal: the audit line follows "shutting down".
    const out = regauth.stdout();
    expect(out.indexOf('shutting down')).toBeGreaterThan(-1);
    expect(out.indexOf('token issued')).toBeGreaterThan(out.indexOf('shutting down'));
    // It no longer accepts connections.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

describe('SIGTERM with a slow log reader', () => {
  const tmp = tempDir('regauth-sigterm-log-');
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    tmp.cleanup();
  });

  test('every audit line of the requests answered is written, whole, before the process exits', async () => {
    const password = randomPassword();
    const { configFile, url } = await serveConfig(tmp.dir, 'alice', bcrypt.hashSync(password, 4));
    child = spawn(process.execPath, [join(REPO_ROOT, 'dist/cli/main.js'), 'serve', '-c', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => (out += d));
    await waitFor(async () => (await fetch(`${url}/healthz`)).ok, 20_000, 'regauth /healthz');
    // The log's reader stops reading (a busy log shipper): the pipe fills, and lines wait in
    // regauth's buffer and in a write in flight.
    child.stdout!.pause();
    const authorization = basic('alice', password);
    // One login first: the rest are cached logins, none turned away by the login queue.
    const first = await fetch(`${url}/auth?service=${SERVICE}`, { headers: { authorization } });
    expect(first.status).toBe(200);
    let answered = 1;
    for (let round = 0; round < 30; round++) {
      const statuses = await Promise.all(
        Array.from({ length: 50 }, () =>
          fetch(`${url}/auth?service=${SERVICE}&scope=repository:a/b:pull`, {
            headers: { authorization },
          }).then(async (r) => (await r.arrayBuffer(), r.status)),
        ),
      );
      answered += statuses.filter((s) => s === 200).length;
    }
    expect(answered).toBe(1501);
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    child.stdout!.resume();
    expect(await exited).toBe(0);
    const lines = out.trimEnd().split('\n');
    // Every line is whole JSON, and every request answered has its audit line.
    const records = lines.map((l) => JSON.parse(l) as { msg: string });
    expect(records.filter((r) => r.msg === 'token issued')).toHaveLength(answered);
  }, 120_000);
});

describe('SIGHUP while serve is starting', () => {
  const tmp = tempDir('regauth-sighup-start-');
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    tmp.cleanup();
  });

  test("does not kill the process, and it serves the file's latest config", async () => {
    // A config manager that writes the file and sends SIGHUP while the container is still
    // starting: SIGHUP's default action ended the process. Found by a review.
    const password = randomPassword();
    const { configFile, url } = await serveConfig(tmp.dir, 'alice', bcrypt.hashSync(password, 4));
    child = spawn(process.execPath, [join(REPO_ROOT, 'dist/cli/main.js'), 'serve', '-c', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => (out += d));
    const exited = new Promise<string>((resolve) =>
      child!.once('exit', (code, signal) => resolve(`${code} ${signal}`)),
    );
    const pid = child.pid!;
    // Node itself starts without a SIGHUP handler (a signal then ends it, whatever regauth does);
    // regauth's is in place before its modules load, well before it listens. Wait for it.
    const catchesSighup = () => {
      const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0';
      return (BigInt(`0x${mask}`) & 1n) === 1n;
    };
    const listening = () =>
      fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    await waitFor(async () => catchesSighup(), 20_000, 'a SIGHUP handler', { intervalMs: 1 });
    expect(await listening()).toBe(false);
    // The change the SIGHUP is about: bob instead of alice.
    writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('alice:', 'bob:'));
    let sent = 0;
    let up = false;
    while (!up && child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGHUP');
      sent++;
      await new Promise((r) => setTimeout(r, 5));
      up = await listening();
    }
    expect(child.signalCode).toBeNull();
    expect(up).toBe(true);
    expect(sent).toBeGreaterThan(1);
    const auth = (user: string) =>
      fetch(`${url}/auth?service=${SERVICE}`, { headers: { authorization: basic(user, password) } }).then(
        (r) => r.status,
      );
    await waitFor(async () => (await auth('bob')) === 200, 10_000, 'the changed config');
    expect(await auth('alice')).toBe(401);
    child.kill('SIGTERM');
    expect(await exited).toBe('0 null');
    expect(out).not.toContain(password);
  }, 60_000);
});

describe('metrics.addr and health endpoints', () => {
  let s: RegauthStack | undefined;
  afterAll(() => s?.stop());

  test('/metrics and the detailed /readyz move to their own listener; /healthz and /readyz answer on the token listener', async () => {
    const metricsPort = await freePort();
    s = await startRegauth({
      name: 'metrics',
      issuer: ISSUER,
      config: `metrics: {addr: "127.0.0.1:${metricsPort}"}\n`,
      serviceOptions: { watch: false },
    });
    const { regauth } = s;
    expect(regauth.metricsUrl).toBe(`http://127.0.0.1:${metricsPort}`);
    const scraped = await get(`${regauth.metricsUrl}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers['content-type']).toContain('text/plain');
    expect(scraped.body).toContain('# TYPE regauth_token_requests_total counter');
    expect(scraped.body).toContain('regauth_process_cpu_seconds_total');
    expect((await get(`${regauth.url}/metrics`)).status).toBe(404);

    expect(JSON.parse((await get(`${regauth.url}/healthz`)).body)).toEqual({ status: 'ok' });
    const ready = await get(`${regauth.url}/readyz`);
    expect(ready.status).toBe(200);
    // The public answer says ready or not; the metrics listener also says why.
    expect(JSON.parse(ready.body)).toEqual({ status: 'ready' });
    const detailed = await get(`${regauth.metricsUrl}/readyz`);
    expect(detailed.status).toBe(200);
    expect(JSON.parse(detailed.body)).toEqual({
      status: 'ready',
      checks: { config: 'ok', signing_key: 'ok' },
    });
  });
});
