/**
 * Where the CPU of a cached token goes, stage by stage (`npm run bench`, docs/performance.md
 * "Where the time goes"): an in-process loop that issues tokens one after another through the
 * same functions, in the same order, as the token handler (src/http/token.ts) and the pipeline
 * (src/pipeline/pipeline.ts), with the process's CPU time (`process.cpuUsage()`, all threads, so
 * the garbage collector's helper threads count) read between stages; the signature is measured
 * apart, 64 at a time as under load (the loop's tokens are not signed again). No sockets: what
 * node's HTTP server itself costs (parsing the request, writing the socket) is what the loaded
 * server's CPU per token leaves over beyond these stages.
 */
import { Writable } from 'node:stream';
import type { Runtime } from '../src/pipeline/runtime.js';

/**
 * The built modules (dist/, which `npm run bench` builds first), as `regauth serve` runs them.
 * Through tsx, src/ carries esbuild's `__name` helper on every function it makes, which cost the
 * guards' closures about 3 µs per token in process. Every module comes from dist/, so classes
 * (Secret, the errors) are the same on both sides of an `instanceof`.
 */
async function built<T>(module: string): Promise<T> {
  return (await import(new URL(`../dist/${module}`, import.meta.url).href)) as T;
}

async function modules() {
  return {
    ...(await built<typeof import('../src/config/load.js')>('config/load.js')),
    ...(await built<typeof import('../src/core/log.js')>('core/log.js')),
    ...(await built<typeof import('../src/guard/lockout.js')>('guard/lockout.js')),
    ...(await built<typeof import('../src/pipeline/audit.js')>('pipeline/audit.js')),
    ...(await built<typeof import('../src/pipeline/metrics.js')>('pipeline/metrics.js')),
    ...(await built<typeof import('../src/pipeline/runtime.js')>('pipeline/runtime.js')),
    ...(await built<typeof import('../src/pipeline/pipeline.js')>('pipeline/pipeline.js')),
    ...(await built<typeof import('../src/request/client-ip.js')>('request/client-ip.js')),
    ...(await built<typeof import('../src/request/token-request.js')>('request/token-request.js')),
    ...(await built<typeof import('../src/http/token.js')>('http/token.js')),
  };
}

export const STAGES = ['parse', 'guard', 'authenticate', 'authorize', 'sign', 'audit', 'respond'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageFigures {
  /** Median over rounds of the mean µs per token spent in each stage. */
  readonly us: Record<Stage, number>;
  /** The sum of the stages. */
  readonly total: number;
}

/**
 * Issues `tokens` cached tokens per round (after a warm-up), in `rounds` rounds, for the account
 * and scope of the load test; the audit lines go to a discarding stream through the same logger
 * `regauth serve` builds.
 */
export async function measureStages(options: {
  configFile: string;
  authorization: string;
  query: string;
  tokens?: number;
  rounds?: number;
}): Promise<StageFigures> {
  const {
    loadConfigFile,
    createLogger,
    Lockout,
    withLockoutNow,
    recordTokenRequest,
    createMetrics,
    instrumentAuthenticator,
    closeRuntime,
    createRuntime,
    authenticateNow,
    authorizeNow,
    signAccess,
    tokenResult,
    clientAddress,
    normalizeIp,
    parseTokenRequest,
    tokenResponse,
    issueGuarded,
  } = await modules();
  const config = loadConfigFile(options.configFile);
  const metrics = createMetrics();
  const logger = createLogger({
    ...config.log,
    format: 'json',
    destination: new Writable({ write: (_chunk, _enc, done) => done() }),
  });
  const runtime = createRuntime(config, { logger, instrument: (a) => instrumentAuthenticator(a, metrics) });
  const lockout = new Lockout({ maxEntries: config.lockout.max_entries, policy: () => config.lockout });
  const sums = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  // The loop's tokens are not signed again: the sign stage is measured apart (below), and the CPU
  // the signing thread goes on spending after a signature's result came back (its bookkeeping,
  // its garbage) would land, through process.cpuUsage(), which reads every thread, in the laps
  // that follow. So the loop's runtime answers with one token signed here, the same for all.
  const signed = await runtime.sign(
    { subject: 'alice', audience: 'registry.bench', access: [] },
    Math.floor(Date.now() / 1000),
    900,
  );
  const unsigned: Runtime = { ...runtime, sign: () => Promise.resolve(signed) };

  /** One token, the stages timed into `sums`. */
  const issue = async (): Promise<void> => {
    let t = cpuNow();
    const lap = (stage: Stage) => {
      const now = cpuNow();
      sums[stage] += now - t - lapCost;
      t = now;
    };
    const startedAt = process.hrtime.bigint();
    const { ip, via } = clientAddress('127.0.0.1', undefined, config.server.trustedProxies);
    normalizeIp('127.0.0.1');
    const parsed = parseTokenRequest({
      method: 'GET',
      query: options.query,
      authorization: options.authorization,
      body: '',
    });
    lap('parse');
    const now = Math.floor(Date.now() / 1000);
    // A cached login takes the cached path (src/http/token.ts issueGuarded): the lockout around
    // the pipeline's stages answered at once (src/pipeline/pipeline.ts issueTokenNow), timed one
    // by one. The guard's time is what the lockout spends before and after them.
    const result = await withLockoutNow(lockout, { ...parsed.credentials, ip }, () => {
      lap('guard');
      const authn = authenticateNow(runtime, parsed);
      if (authn === undefined) throw new Error('the cached login was not answered at once');
      lap('authenticate');
      const { decisions, access } = authorizeNow(runtime, parsed, authn, ip);
      lap('authorize');
      return signAccess(unsigned, parsed, authn, access, now).then((token) => {
        const r = tokenResult(runtime, authn, decisions, access, token, now);
        // Not counted here: the sign stage is measured below, 64 signatures at once, as
        // batched under load.
        t = cpuNow();
        return r;
      });
    });
    if (result === undefined) throw new Error('the lockout did not answer the cached login at once');
    lap('guard');
    const response = tokenResponse(result, 'GET', 'bench-request-id');
    if (response.body.length === 0) throw new Error('empty body');
    lap('respond');
    recordTokenRequest(logger, metrics, {
      requestId: 'bench-request-id',
      method: 'GET',
      ip,
      via,
      request: parsed,
      result,
      status: 200,
      ms: Number(process.hrtime.bigint() - startedAt) / 1e6,
    });
    lap('audit');
  };

  // What reading the clock costs, taken off every lap: measured again before each round, once
  // V8 has optimised the reading too (measured once before the warm-up, it came out 1 to 2 µs
  // too high, and the cheapest stages read below zero).
  let lapCost = 0;
  const measureLapCost = () => {
    const probe = cpuNow();
    for (let i = 0; i < 10_000; i++) cpuNow();
    lapCost = (cpuNow() - probe) / 10_001;
  };

  const tokens = options.tokens ?? 2000;
  const rounds = options.rounds ?? 5;
  // The first login checks the password (bcrypt) and fills the credential cache, through the
  // full path; the warm-up lets V8 optimise the cached one.
  await issueGuarded(
    { lockout },
    runtime,
    parseTokenRequest({
      method: 'GET',
      query: options.query,
      authorization: options.authorization,
      body: '',
    }),
    { ip: '127.0.0.1', now: Math.floor(Date.now() / 1000) },
  );
  for (let i = 0; i < tokens; i++) await issue();
  const perRound: Record<Stage, number>[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const s of STAGES) sums[s] = 0;
    measureLapCost();
    for (let i = 0; i < tokens; i++) await issue();
    perRound.push(Object.fromEntries(STAGES.map((s) => [s, sums[s] / tokens])) as Record<Stage, number>);
  }
  // The signatures alone, as under the load test: 64 in flight at a time.
  const access = [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }];
  const signOnce = () =>
    runtime.sign(
      { subject: 'alice', audience: 'registry.bench', access },
      Math.floor(Date.now() / 1000),
      900,
    );
  const signRounds: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    const started = cpuNow();
    for (let i = 0; i < tokens; i += 64) await Promise.all(Array.from({ length: 64 }, signOnce));
    // The first round warms up.
    if (round > 0) signRounds.push((cpuNow() - started) / (Math.ceil(tokens / 64) * 64));
  }
  perRound.forEach((r, i) => (r.sign = signRounds[i]!));
  await closeRuntime(runtime);
  const us = Object.fromEntries(
    STAGES.map((s) => {
      const sorted = perRound.map((r) => r[s]).sort((a, b) => a - b);
      return [s, sorted[Math.floor(sorted.length / 2)]!];
    }),
  ) as Record<Stage, number>;
  return { us, total: STAGES.reduce((n, s) => n + us[s], 0) };
}

/** CPU time of the whole process (user + system, every thread), in µs. */
function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}
