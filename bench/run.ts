/**
 * `npm run bench`: regauth (built, in its own process) against a bare baseline signer and the
 * same node:http server answering a stored reply (what the HTTP server alone costs), regauth
 * with its lockout in a real Redis (store.type: redis), a login storm, ACL evaluation cost, peak
 * RSS and the user-enumeration medians (failed logins for known and made-up names, per backend),
 * printed as a table. Loopback only; three to four minutes.
 * Not part of `npm test`: figures depend on the machine; docs/performance.md quotes them with the
 * machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import bcrypt from 'bcryptjs';
import { compileAcl } from '../src/authz/acl.js';
import type { AclRuleConfig, AuthzRequest } from '../src/authz/types.js';
import { generateSigningMaterial } from '../src/token/generate.js';
import { freePort } from '../test/e2e/harness/ports.js';
import { startRedis, type RedisPeer } from '../test/e2e/harness/redis.js';
import { startSlapd, type Slapd } from '../test/e2e/harness/slapd.js';
import { measureEnumeration, type EnumerationResult } from '../test/helpers/enumeration.js';
import { tempDir } from '../test/helpers/fixtures.js';
import {
  benchConfig,
  cpuMeter,
  log,
  SERVICE,
  spawnRegauth,
  TOKEN_PATH,
  waitHealthy,
  WARMUP_REQUESTS,
} from './harness.js';
import { measureStages, STAGES, type StageFigures } from './stages.js';

const ROOT = resolve(import.meta.dirname, '..');
const CONNECTIONS = 64;
/**
 * Seconds of load per side, split over ROUNDS alternating rounds: each round's ratio compares
 * the two sides under the same conditions, and their spread is reported with the whole.
 */
const SECONDS = 12;
const ROUNDS = 6;
const STORM_LOGINS = 24;
/** The warm-up's length as the report writes it. */
const WARMUP = WARMUP_REQUESTS.toLocaleString('en-US');

interface Load {
  readonly name: string;
  /** Requests answered. */
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** CPU time (user + system) the server process spent per token, in µs: robust to a busy machine. */
  readonly cpuUs: number;
  /** The same for the event-loop thread alone (the thread that bounds tokens/s). */
  readonly loopUs: number;
}

async function main(): Promise<void> {
  const tmp = tempDir('regauth-bench-');
  const children: ChildProcess[] = [];
  let redis: RedisPeer | undefined;
  try {
    const { keyPem, certPem } = await generateSigningMaterial({
      alg: 'ES256',
      commonName: 'bench',
      validDays: 1,
    });
    const keyPath = join(tmp.dir, 'token.key');
    const certPath = join(tmp.dir, 'token.pem');
    writeFileSync(keyPath, keyPem, { mode: 0o600 });
    writeFileSync(certPath, certPem);

    // Cost 10, as `htpasswd -B` and `regauth hash` write by default.
    const password = `bench-${Math.random().toString(36).slice(2)}`;
    const users = ['alice', ...Array.from({ length: STORM_LOGINS }, (_, i) => `storm${i}`)];
    const hashed = await Promise.all(users.map((u) => bcrypt.hash(`${password}-${u}`, 10)));
    const port = await freePort();
    const configFile = join(tmp.dir, 'config.yml');
    writeFileSync(
      configFile,
      benchConfig({
        port,
        keyPath,
        certPath,
        users: new Map(users.map((u, i) => [u, hashed[i]!])),
        // The storm's logins all come from 127.0.0.1: let them all in (the default is 8 per address).
        extra: [`login_queue: {per_client: ${STORM_LOGINS}}`],
      }),
    );

    // BENCH_CPU_PROFILE=DIR: regauth writes a V8 CPU profile there when it exits (open it in Chrome DevTools).
    const profileDir = process.env['BENCH_CPU_PROFILE'];
    const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', resolve(profileDir)] : [];
    const regauth = spawnRegauth(ROOT, configFile, tmp.dir, nodeArgs);
    children.push(regauth);
    const regauthUrl = `http://127.0.0.1:${port}`;
    await waitHealthy(regauthUrl, regauth);

    // The same config with the lockout's state in a real Redis (store.type: redis, as replicas
    // share it): a cached issuance must stay within 10 % of the memory store's.
    redis = await startRedis({ dir: join(tmp.dir, 'redis') });
    const redisPort = await freePort();
    const redisConfigFile = join(tmp.dir, 'config-redis.yml');
    writeFileSync(
      redisConfigFile,
      readFileSync(configFile, 'utf8').replace(
        `addr: "127.0.0.1:${port}"`,
        `addr: "127.0.0.1:${redisPort}"`,
      ) + `store: {type: redis, url: "${redis.url}"}\n`,
    );
    const regauthRedis = spawnRegauth(ROOT, redisConfigFile, tmp.dir);
    children.push(regauthRedis);
    const regauthRedisUrl = `http://127.0.0.1:${redisPort}`;
    await waitHealthy(regauthRedisUrl, regauthRedis);

    // The baseline, and the same server answering a reply made once: node's HTTP server alone.
    const startFloor = async (signEach: boolean) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/baseline.ts')], {
        stdio: ['pipe', 'pipe', 'inherit'],
        cwd: ROOT,
      });
      children.push(child);
      child.stdin!.end(
        JSON.stringify({ keyPem, certPem, issuer: 'regauth-bench', kid: 'K'.repeat(59), signEach }),
      );
      return { url: await firstLine(child), pid: child.pid! };
    };
    const baselineSide = await startFloor(true);
    const httpSide = await startFloor(false);

    const authorization = `Basic ${Buffer.from(`alice:${password}-alice`).toString('base64')}`;
    // One login fills the credential cache; every request after it is a cached issuance.
    for (const url of [regauthUrl, regauthRedisUrl]) {
      const first = await fetch(url + TOKEN_PATH, { headers: { authorization } });
      if (first.status !== 200) throw new Error(`regauth answered ${first.status} to the first login`);
    }

    // Alternating rounds, the order reversed every other round, so a slow patch of the machine
    // (another process, a CPU boost ending) falls on every side rather than on one.
    const rounds: { baseline: Load[]; http: Load[]; cached: Load[]; redis: Load[] } = {
      baseline: [],
      http: [],
      cached: [],
      redis: [],
    };
    const sides = [
      { key: 'baseline', name: 'baseline (node:http + sign)', ...baselineSide },
      { key: 'http', name: "node:http alone, at the baseline's rate", ...httpSide },
      { key: 'cached', name: 'regauth, cached login', url: regauthUrl, pid: regauth.pid! },
      {
        key: 'redis',
        name: 'regauth, cached login, Redis store',
        url: regauthRedisUrl,
        pid: regauthRedis.pid!,
      },
    ] as const;
    const warmup: Partial<Record<(typeof sides)[number]['key'], Load>> = {};
    for (const side of sides) {
      log(`warm-up: ${side.name}, ${CONNECTIONS} connections, ${WARMUP} requests (not counted) …`);
      const rate = side.key === 'http' ? warmup.baseline?.rps : undefined;
      warmup[side.key] = await drive(side.name, side.url + TOKEN_PATH, authorization, side.pid, rate, {
        requests: WARMUP_REQUESTS,
      });
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const side of round % 2 === 1 ? sides : [...sides].reverse()) {
        log(`round ${round}/${ROUNDS}: ${side.name}, ${CONNECTIONS} connections, ${SECONDS / ROUNDS} s …`);
        // node:http alone is held to the baseline's last rate: its CPU per request depends on
        // the rate (30 µs at its own 33,000/s, 43 µs at 7,000/s), and it is subtracted from the
        // baseline's. The first round drives the baseline first.
        const rate = side.key === 'http' ? rounds.baseline.at(-1)?.rps : undefined;
        rounds[side.key].push(await drive(side.name, side.url + TOKEN_PATH, authorization, side.pid, rate));
      }
    }
    const baseline = combine(rounds.baseline);
    const http = combine(rounds.http);
    const cached = combine(rounds.cached);
    const spread = {
      rps: rounds.cached.map((l, i) => l.rps / rounds.baseline[i]!.rps),
      cpu: rounds.cached.map((l, i) => l.cpuUs / rounds.baseline[i]!.cpuUs),
    };
    const redisCached = combine(rounds.redis);
    regauthRedis.kill('SIGTERM');

    log(`login storm: ${STORM_LOGINS} uncached cost-10 logins while probing /healthz …`);
    const storm = await loginStorm(regauthUrl, password);

    log('stages of a cached token, in-process …');
    const stages = await measureStages({
      configFile,
      authorization,
      query: TOKEN_PATH.slice(TOKEN_PATH.indexOf('?') + 1),
    });

    log('ACL evaluation …');
    const acl = [10, 1_000, 10_000].map((n) => ({ rules: n, us: aclCost(n) }));

    const rssMb = peakRssMb(regauth.pid!);

    log('user enumeration: failed logins, known vs made-up names, per backend …');
    const enumeration = await enumerationSection(tmp.dir, keyPath, certPath, children);
    const cold = { baseline: warmup.baseline!, cached: warmup.cached! };
    report({ baseline, http, cached, spread, cold, redisCached, stages, storm, acl, rssMb, enumeration });
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await redis?.stop();
    tmp.cleanup();
  }
}

/**
 * One round of load on one side (a round's seconds, or so many requests); with `rate`, held to
 * that many requests/s (else as fast as it answers).
 */
async function drive(
  name: string,
  url: string,
  authorization: string,
  pid: number,
  rate?: number,
  length: { seconds: number } | { requests: number } = { seconds: SECONDS / ROUNDS },
): Promise<Load> {
  const perToken = cpuMeter(pid);
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    ...('requests' in length ? { amount: length.requests } : { duration: length.seconds }),
    headers: { authorization },
    ...(rate ? { overallRate: Math.max(1, Math.round(rate)) } : {}),
  });
  return {
    name,
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    ...perToken(result.requests.total),
  };
}

/** Rounds of one side as one load: tokens/s and CPU over all of them, the mean p50, the worst p99. */
function combine(loads: readonly Load[]): Load {
  const requests = loads.reduce((n, l) => n + l.requests, 0);
  return {
    name: loads[0]!.name,
    requests,
    rps: loads.reduce((n, l) => n + l.rps, 0) / loads.length,
    p50: loads.reduce((n, l) => n + l.p50, 0) / loads.length,
    p99: Math.max(...loads.map((l) => l.p99)),
    errors: loads.reduce((n, l) => n + l.errors, 0),
    cpuUs: loads.reduce((n, l) => n + l.cpuUs * l.requests, 0) / Math.max(1, requests),
    loopUs: loads.reduce((n, l) => n + l.loopUs * l.requests, 0) / Math.max(1, requests),
  };
}

/** 24 logins nobody has made yet (each a real cost-10 comparison) while /healthz is probed back to back. */
async function loginStorm(url: string, password: string) {
  const started = performance.now();
  let done = false;
  const logins = Promise.all(
    Array.from({ length: STORM_LOGINS }, async (_, i) => {
      const user = `storm${i}`;
      const res = await fetch(`${url}/auth?service=${SERVICE}&scope=repository:${user}/app:pull`, {
        headers: { authorization: `Basic ${Buffer.from(`${user}:${password}-${user}`).toString('base64')}` },
      });
      await res.arrayBuffer();
      return res.status;
    }),
  ).finally(() => (done = true));
  const probes: number[] = [];
  while (!done) {
    const t = performance.now();
    await (await fetch(`${url}/healthz`)).arrayBuffer();
    probes.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 2));
  }
  const statuses = await logins;
  probes.sort((a, b) => a - b);
  return {
    seconds: (performance.now() - started) / 1000,
    ok: statuses.filter((s) => s === 200).length,
    probes: probes.length,
    p50: quantile(probes, 0.5),
    p99: quantile(probes, 0.99),
    max: probes.at(-1) ?? 0,
  };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/**
 * µs per scope for an ACL of `n` rules, in the shape of a big installation: per-user namespaces,
 * team rules by label, regex service accounts, and a catch-all last; the requests fall through
 * to the last rule (the worst case for first match wins).
 */
function aclCost(n: number): number {
  const rules: AclRuleConfig[] = [];
  const users = Math.floor(n * 0.6);
  const teams = Math.floor(n * 0.3);
  for (let i = 0; i < users; i++)
    rules.push({ match: { account: `user${i}`, name: `user${i}/**` }, actions: ['*'] });
  for (let i = 0; i < teams; i++)
    rules.push({ match: { name: `team${i}/**`, labels: { group: `team${i}` } }, actions: ['pull', 'push'] });
  while (rules.length < n - 1)
    rules.push({
      match: { account: `/^svc${rules.length}-(.+)$/`, name: '${account:1}/**' },
      actions: ['pull'],
    });
  rules.push({ match: { account: '/.+/' }, actions: ['pull'] });
  const acl = compileAcl(rules);
  const requests: AuthzRequest[] = Array.from({ length: 200 }, (_, i) => ({
    account: `someone${i % 50}`,
    type: 'repository',
    name: `elsewhere${i % 7}/app`,
    service: SERVICE,
    ip: '127.0.0.1',
    labels: { group: ['team1', 'dev', 'ops'] },
    actions: ['pull', 'push'],
  }));
  for (const r of requests) acl.authorize(r);
  const rounds = 25;
  const start = process.hrtime.bigint();
  for (let round = 0; round < rounds; round++) for (const r of requests) acl.authorize(r);
  return Number(process.hrtime.bigint() - start) / 1000 / (rounds * requests.length);
}

/** Samples per side of each enumeration probe (at cost 10, about 25 s in all on a quiet machine). */
const ENUMERATION_SAMPLES = 25;

/**
 * A second regauth with every password backend at once (users at cost 10, users_file at cost 5,
 * ldap_auth on a real slapd when one is installed, oidc_auth, jwt_auth), no lockout: the median
 * time of a failed login for a known name against a made-up one, per backend (docs/security.md).
 */
async function enumerationSection(
  dir: string,
  keyPath: string,
  certPath: string,
  children: ChildProcess[],
): Promise<{ results: EnumerationResult[]; ldap: boolean }> {
  const secret = `${Math.random().toString(36).slice(2)}`.repeat(4);
  writeFileSync(join(dir, 'oidc-secret'), secret, { mode: 0o600 });
  writeFileSync(join(dir, 'enum-htpasswd'), `bob:${bcrypt.hashSync(secret, 5).replace(/^\$2b\$/, '$2y$')}\n`);
  const suffix = 'dc=example,dc=org';
  let slapd: Slapd | undefined;
  try {
    const svc = `svc-${secret.slice(0, 12)}`;
    writeFileSync(join(dir, 'bind-password'), `${svc}\n`, { mode: 0o600 });
    const person = (uid: string, ou: string, pw: string) =>
      `dn: uid=${uid},ou=${ou},${suffix}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nuserPassword: ${pw}\n`;
    slapd = await startSlapd({
      dir: join(dir, 'slapd'),
      ldif: [
        `dn: ou=people,${suffix}\nobjectClass: organizationalUnit\nou: people\n`,
        `dn: ou=services,${suffix}\nobjectClass: organizationalUnit\nou: services\n`,
        person('carol', 'people', secret),
        person('svc', 'services', svc),
      ].join('\n'),
    });
  } catch (err) {
    log(`  no slapd (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): ldap_auth skipped`);
  }
  const trusted = 'http://127.0.0.1:9/ci';
  const port = await freePort();
  const configFile = join(dir, 'enumeration.yml');
  writeFileSync(
    configFile,
    [
      'server:',
      `  addr: "127.0.0.1:${port}"`,
      'token:',
      '  issuer: regauth-bench',
      `  key: ${keyPath}`,
      `  certificate: ${certPath}`,
      'users:',
      `  alice: {password: "${bcrypt.hashSync(secret, 10)}"}`,
      'users_file: enum-htpasswd',
      ...(slapd
        ? [
            'ldap_auth:',
            `  addr: "127.0.0.1:${slapd.port}"`,
            `  bind_dn: "uid=svc,ou=services,${suffix}"`,
            '  bind_password_file: bind-password',
            `  base: "ou=people,${suffix}"`,
            '  filter: "(&(objectClass=inetOrgPerson)(uid=${account}))"',
          ]
        : []),
      'oidc_auth:',
      '  issuer: https://idp.example',
      '  client_id: regauth',
      '  redirect_url: https://auth.example/oidc/callback',
      '  registry_url: registry.example',
      '  secret_file: oidc-secret',
      'jwt_auth:',
      '  issuers:',
      `    - {issuer: "${trusted}", audience: registry, jwks_uri: "${trusted}/jwks"}`,
      'lockout: {enabled: false}',
      'acl: [{match: {}, actions: [pull]}]',
      '',
    ].join('\n'),
  );
  const regauth = spawnRegauth(ROOT, configFile, dir);
  children.push(regauth);
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(url, regauth);
    const unsigned = [
      Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'),
      Buffer.from(JSON.stringify({ iss: trusted, sub: 'alice', aud: 'registry', exp: 4e9 })).toString(
        'base64url',
      ),
      '',
    ].join('.');
    const probes = [
      { name: 'users (cost 10)', known: 'alice:wrong', unknown: 'nobody:wrong' },
      { name: 'users_file (cost 5)', known: 'bob:wrong', unknown: 'nobody:wrong' },
      ...(slapd ? [{ name: 'ldap_auth (slapd)', known: 'carol:wrong', unknown: 'nobody:wrong' }] : []),
      { name: 'oidc_auth app password', known: 'alice:rga_x', unknown: 'nobody:rga_x' },
      { name: 'jwt_auth unsigned token', known: `alice:${unsigned}`, unknown: `nobody:${unsigned}` },
    ];
    const results: EnumerationResult[] = [];
    for (const probe of probes) {
      log(`  ${probe.name} …`);
      results.push(await measureEnumeration(url, probe, { samples: ENUMERATION_SAMPLES, service: SERVICE }));
    }
    return { results, ldap: slapd !== undefined };
  } finally {
    regauth.kill('SIGTERM');
    await slapd?.stop();
  }
}

/** The child's peak resident set (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

function report(r: {
  baseline: Load;
  /** node:http answering a stored reply at the baseline's rate: what the HTTP server alone costs per request. */
  http: Load;
  cached: Load;
  /** Per round, regauth's tokens/s and CPU per token over the baseline's. */
  spread: { rps: number[]; cpu: number[] };
  /** The warm-up of the baseline and of regauth, just started (not in the figures above). */
  cold: { baseline: Load; cached: Load };
  redisCached: Load;
  stages: StageFigures;
  storm: Awaited<ReturnType<typeof loginStorm>>;
  acl: { rules: number; us: number }[];
  rssMb: number;
  enumeration: { results: EnumerationResult[]; ldap: boolean };
}): void {
  const ratio = r.cached.rps / r.baseline.rps;
  const cpuRatio = r.cached.cpuUs / r.baseline.cpuUs;
  const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  const range = (v: readonly number[]) =>
    `rounds ${Math.min(...v).toFixed(2)}× to ${Math.max(...v).toFixed(2)}×`;
  const rows: [string, string, string][] = [
    ['measure', 'value', 'target'],
    ...[r.baseline, r.cached].map((l): [string, string, string] => [
      l.name,
      summary(l),
      l === r.cached ? `${mark(l.errors === 0)}: no errors at ${CONNECTIONS} connections` : '',
    ]),
    [
      'ratio regauth / baseline',
      `${ratio.toFixed(2)}× tokens/s (${range(r.spread.rps)})`,
      `${mark(ratio >= 1)}: ≥ 1.0×`,
    ],
    [
      'CPU per token, regauth / baseline',
      `${cpuRatio.toFixed(2)}× (${range(r.spread.cpu)})`,
      `${mark(cpuRatio <= 1.2)}: ≤ 1.2×`,
    ],
    [
      `warm-up after the start (${WARMUP} requests, not counted)`,
      `regauth ${Math.round(r.cold.cached.cpuUs)} µs CPU/token, baseline ${Math.round(r.cold.baseline.cpuUs)} (${(r.cold.cached.cpuUs / r.cold.baseline.cpuUs).toFixed(2)}×)`,
      '',
    ],
    ...STAGES.map((stage): [string, string, string] => [
      `  stage: ${stage}`,
      // Each lap's clock reading is taken off its figure; a stage cheaper than that reading's
      // spread can come out at or below zero.
      r.stages.us[stage] < 1 ? 'under 1 µs CPU/token' : `${r.stages.us[stage].toFixed(1)} µs CPU/token`,
      '',
    ]),
    ['  stages together (in-process)', `${r.stages.total.toFixed(1)} µs CPU/token`, ''],
    [r.http.name, summary(r.http, 'replies'), ''],
    [
      '  under load: node:http',
      `${Math.round(r.http.cpuUs)} µs CPU/request (a stored reply, the server above)`,
      '',
    ],
    [
      '  under load: making and signing a token',
      `${Math.round(r.baseline.cpuUs - r.http.cpuUs)} µs CPU/token (baseline − node:http alone)`,
      '',
    ],
    [
      '  under load: regauth over the baseline',
      `${Math.round(r.cached.cpuUs - r.baseline.cpuUs)} µs CPU/token (regauth − baseline)`,
      '',
    ],
    [r.redisCached.name, summary(r.redisCached), `${mark(r.redisCached.errors === 0)}: no errors`],
    [
      'ratio Redis store / memory store',
      `${(r.redisCached.rps / r.cached.rps).toFixed(2)}× tokens/s`,
      `${mark(r.redisCached.rps / r.cached.rps >= 0.9)}: ≥ 0.9×`,
    ],
    [
      `login storm (${STORM_LOGINS} × cost 10)`,
      `${r.storm.ok}/${STORM_LOGINS} ok in ${r.storm.seconds.toFixed(2)} s`,
      '',
    ],
    [
      '/healthz during the storm',
      `${r.storm.probes} probes, p50 ${r.storm.p50.toFixed(1)} ms, p99 ${r.storm.p99.toFixed(1)} ms, max ${r.storm.max.toFixed(1)} ms`,
      `${mark(r.storm.p99 < 20)}: p99 < 20 ms`,
    ],
    ...r.acl.map((a): [string, string, string] => [
      `ACL, ${a.rules.toLocaleString('en')} rules`,
      `${a.us.toFixed(2)} µs per scope`,
      a.rules === 10_000 ? `${mark(a.us < 100)}: < 100 µs` : '',
    ]),
    ['regauth peak RSS', `${r.rssMb.toFixed(0)} MB`, `${mark(r.rssMb < 200)}: < 200 MB`],
    ...r.enumeration.results.map((e): [string, string, string] => [
      `failed login, ${e.name}`,
      `known ${e.known.toFixed(1)} ms, made-up ${e.unknown.toFixed(1)} ms (medians of ${e.samples}); paired gap ${e.gap.toFixed(1)} ms`,
      `${mark(e.gap <= e.bound)}: gap ≤ ${e.bound.toFixed(1)} ms (10 %, ≥ 2 ms)`,
    ]),
    ...(r.enumeration.ldap
      ? []
      : [['failed login, ldap_auth', 'skipped: no slapd on this machine', ''] as [string, string, string]]),
  ];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: readonly string[]) => `| ${row.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    [
      '',
      `regauth bench: Node ${process.version}, ${cpus().length} cores (${cpu}), loopback`,
      line(rows[0]!),
      `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
      ...rows.slice(1).map(line),
      '',
    ].join('\n'),
  );
}

/** One load as a table cell: tokens/s, latency, errors, CPU per token and the event loop's share. */
function summary(l: Load, what: 'tokens' | 'replies' = 'tokens'): string {
  const per = what === 'tokens' ? 'token' : 'reply';
  return `${Math.round(l.rps)} ${what}/s, p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99} ms, ${l.errors} errors, ${Math.round(l.cpuUs)} µs CPU/${per} (event loop ${Math.round(l.loopUs)})`;
}

async function firstLine(child: ChildProcess): Promise<string> {
  for await (const line of createInterface({ input: child.stdout! })) return line;
  throw new Error('the baseline exited without printing its URL');
}

await main();
