import { resolve } from 'node:path';
import { Lockout } from '../guard/lockout.js';
import { createStore } from '../store/create.js';
import { loadConfigFile, namesSigningKey, parseListenAddress, type Config } from '../config/load.js';
import { watchConfigFiles } from '../config/watch.js';
import { ConfigError, ConfigErrors } from '../core/errors.js';
import { readinessProbe } from '../pipeline/health.js';
import { LoginQueue } from '../guard/login-queue.js';
import { startMetricsServer } from '../http/metrics.js';
import { describeComparison, RecentDecisions } from '../authz/recent-decisions.js';
import { createMetrics, instrumentAuthenticator, type Metrics } from '../pipeline/metrics.js';
import type { Logger } from '../core/log.js';
import { closeRuntime, createRuntime, type Runtime, type RuntimeDeps } from '../pipeline/runtime.js';
import { applyConnectionLimits, startServer, type RunningServer } from '../http/server.js';
import { ensureDevKeys } from '../token/generate.js';
import { registryAuthBlock, registryTrustFiles } from '../token/registry-block.js';
import { ensureRefreshSecret } from '../token/refresh.js';

export interface ServiceOptions {
  readonly configFile: string;
  /** A logger, or how to make one from the loaded config (its `log:` section). */
  readonly logger: Logger | ((config: Config) => Logger);
  /** Where the development key lives when the config names none (default ./data). */
  readonly dataDir?: string;
  readonly listen?: { host?: string; port: number };
  readonly runtimeDeps?: RuntimeDeps;
  /** Unix time in milliseconds (tests move the clock to expire refresh tokens). */
  readonly now?: () => number;
  /** Process metrics; default: a fresh registry with Node's default metrics. */
  readonly metrics?: Metrics;
  /** Reload when the config file or a file it names changes (default true). */
  readonly watch?: boolean;
  /** Quiet time after a file change before reloading (default 300 ms). */
  readonly watchDebounceMs?: number;
}

/** A running regauth: the server plus the current runtime, swappable by reload(). */
export interface Service {
  readonly url: string;
  /** The separate metrics listener's URL, when `metrics.addr` is set. */
  readonly metricsUrl: string | undefined;
  readonly metrics: Metrics;
  /** The process logger (made from the config's `log:` section when a factory was given). */
  readonly logger: Logger;
  runtime(): Runtime;
  /**
   * Loads the config again and swaps it in atomically; on error keeps the current one, logs the
   * error with its YAML paths, counts it in `regauth_config_reloads_total{result="failure"}`, and throws.
   */
  reload(): Promise<void>;
  /** Graceful stop: stops accepting, in-flight requests finish within `graceMs`, backends close. */
  close(graceMs?: number): Promise<void>;
}

/** Loads the config (creating the development key if needed), then serves. */
export async function startService(options: ServiceOptions): Promise<Service> {
  const dataDir = resolve(options.dataDir ?? 'data');
  const configFile = resolve(options.configFile);
  let logger: Logger | undefined = typeof options.logger === 'function' ? undefined : options.logger;
  /** Development notices made before the logger exists (it is made from the config): said once it does. */
  let pendingNotices: ((l: Logger) => void)[] = [];
  const notify = (notice: (l: Logger) => void) => {
    if (logger) notice(logger);
    else pendingNotices.push(notice);
  };
  /** Whether the first load created the development key (serve's first start). */
  let createdDevKey = false;
  const load = async (): Promise<Config> => {
    const devKey = { keyPath: resolve(dataDir, 'token.key'), certificatePath: resolve(dataDir, 'token.pem') };
    // Only create the development key when the config names no key of its own.
    if (!namesSigningKey(configFile)) {
      const created = await ensureDevKeys(dataDir);
      if (created.created) {
        createdDevKey = true;
        const notice = (l: Logger) =>
          l.warn(
            { key: created.keyPath, certificate: created.certPath },
            'created a development signing key; set token.key and token.certificate for production',
          );
        notify(notice);
      }
    }
    // `token.refresh` without secret_file: a development secret next to the development key.
    const devRefreshSecret = () => {
      const secret = ensureRefreshSecret(resolve(dataDir, 'refresh.key'));
      if (secret.created) {
        notify((l) =>
          l.warn(
            { secret: secret.path },
            'created a development refresh-token secret; set token.refresh.secret_file for production',
          ),
        );
      }
      return secret.path;
    };
    return loadConfigFile(configFile, { devKey, devRefreshSecret });
  };

  const metrics = options.metrics ?? createMetrics({ defaults: true });
  const first = await load();
  logger ??= (options.logger as (config: Config) => Logger)(first);
  const log = logger;
  const runtimeDeps: RuntimeDeps = {
    logger: log,
    ...options.runtimeDeps,
    instrument: (a) => instrumentAuthenticator(options.runtimeDeps?.instrument?.(a) ?? a, metrics),
  };
  for (const notice of pendingNotices) notice(log);
  pendingNotices = [];
  let current = createRuntime(first, runtimeDeps);
  /** Runtimes replaced by a reload whose backends are not closed yet (requests may still hold them). */
  const retiring = new Set<Runtime>();
  const store = createStore(first.store, {
    maxEntries: first.lockout.max_entries,
    onStatus: (problem) => {
      metrics.storeUp.set(problem === undefined ? 1 : 0);
      if (problem === undefined) log.info({ store: first.store.type }, 'the store answers');
      else
        log.warn({ store: first.store.type, problem }, 'the store cannot answer; see store.on_store_error');
    },
    onError: (operation) => metrics.storeErrors.inc({ operation }),
  });
  metrics.storeUp.set(store.problem() === undefined ? 1 : 0);
  const lockout = new Lockout({
    store: store.lockout,
    shared: store.shared,
    policy: () => current.config.lockout,
    onStoreError: () => current.config.store.onStoreError,
  });
  const loginQueue = new LoginQueue({
    policy: () => current.config.login_queue,
    onChange: (pending) => metrics.loginQueuePending.set(pending),
    onReject: (reason) => metrics.loginQueueRejections.inc({ reason }),
  });
  const readiness = readinessProbe(log, { store });
  const recent = new RecentDecisions(first.log.recent_decisions);
  const metricsAddr = first.metrics.addr;
  const metricsServer = metricsAddr
    ? await startMetricsServer(metrics, parseListenAddress(metricsAddr), () => readiness.probe(current))
    : undefined;
  let server: RunningServer;
  try {
    server = await startServer({
      runtime: () => current,
      logger: log,
      metrics,
      serveMetrics: metricsServer === undefined,
      lockout,
      loginQueue,
      store,
      readiness,
      recent,
      ...(options.listen ? { listen: options.listen } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
  } catch (err) {
    // The metrics listener would keep the process alive after the error is reported.
    await metricsServer?.close();
    await store.close();
    throw err;
  }
  logStartup(log, current.config, server.url, createdDevKey);
  if (metricsServer) log.info({ url: `${metricsServer.url}/metrics` }, 'serving metrics');

  const watchedFiles = (config: Config) => [configFile, ...config.files];
  const watcher =
    options.watch === false
      ? undefined
      : watchConfigFiles(() => void reload().catch(() => undefined), {
          ...(options.watchDebounceMs !== undefined ? { debounceMs: options.watchDebounceMs } : {}),
          onError: (err) => log.warn({ error: err.message }, 'cannot watch a config directory'),
        });
  watcher?.watch(watchedFiles(current.config));

  const doReload = async (): Promise<void> => {
    let next: Runtime;
    try {
      next = createRuntime(await load(), runtimeDeps);
    } catch (err) {
      metrics.reloads.inc({ result: 'failure' });
      log.error(
        { config: configFile, errors: describeConfigError(err) },
        'config reload failed; keeping the current config',
      );
      throw err;
    }
    for (const key of startOnlyChanges(first, next.config)) {
      log.warn(
        { key, config: configFile },
        `${key} changed; it applies at start only, so the running server keeps the old value until regauth is restarted`,
      );
    }
    const previous = current;
    current = next;
    applyConnectionLimits(server.server, next.config);
    metrics.reloads.inc({ result: 'success' });
    if (!process.env['REGAUTH_LOG_LEVEL']) log.level = next.config.log.level;
    // Requests that already hold `previous` finish with it; its backends close after a grace period.
    retiring.add(previous);
    setTimeout(() => {
      retiring.delete(previous);
      void closeRuntime(previous);
    }, 30_000).unref();
    // The new config may name other files; an editor's rename also needs no re-arming (directories are watched).
    watcher?.watch(watchedFiles(next.config));
    log.info({ config: configFile }, 'config reloaded');
    recent.resize(next.config.log.recent_decisions);
    if (recent.size > 0) {
      const c = recent.compare(next.config.acl, next.config.ext_authz !== undefined);
      metrics.reloadDecisionChanges.inc({ direction: 'fewer' }, c.fewer);
      metrics.reloadDecisionChanges.inc({ direction: 'more' }, c.more);
      log.info(
        { compared: c.compared, changed: c.changed, fewer: c.fewer, more: c.more },
        describeComparison(c),
      );
    }
  };
  // One reload at a time: a SIGHUP during a file-triggered reload waits for it, then loads again.
  let queue: Promise<void> = Promise.resolve();
  const reload = (): Promise<void> => {
    const run = queue.catch(() => undefined).then(doReload);
    queue = run;
    return run;
  };

  return {
    url: server.url,
    metricsUrl: metricsServer?.url,
    metrics,
    logger: log,
    runtime: () => current,
    reload,
    async close(graceMs) {
      watcher?.close();
      await Promise.all([server.close(graceMs), metricsServer?.close()]);
      await Promise.all([current, ...retiring].map(closeRuntime));
      await store.close();
    },
  };
}

/**
 * Keys read only when the server starts (the listener, its TLS files, the route prefix, the
 * metrics listener, the log format) whose value in `next` differs from the one the server started
 * with: a reload applies everything else, but not these.
 */
function startOnlyChanges(started: Config, next: Config): string[] {
  const a = started.server;
  const b = next.server;
  const changed: [string, boolean][] = [
    ['server.addr', a.addr.host !== b.addr.host || a.addr.port !== b.addr.port],
    ['server.path_prefix', a.pathPrefix !== b.pathPrefix],
    [
      'server.certificate',
      a.tls?.certPem !== b.tls?.certPem || a.tls?.certificatePath !== b.tls?.certificatePath,
    ],
    ['server.key', a.tls?.keyPem !== b.tls?.keyPem || a.tls?.keyPath !== b.tls?.keyPath],
    ['metrics.addr', started.metrics.addr !== next.metrics.addr],
    ['log.format', started.log.format !== next.log.format],
    ['store', storeIdentity(started) !== storeIdentity(next) || storePasswordChanged(started, next)],
  ];
  return changed.filter(([, differs]) => differs).map(([key]) => key);
}

/** The store's settings read at start (all but on_store_error), comparable; never the password itself. */
function storeIdentity(config: Config): string {
  const s = config.store;
  if (s.type === 'memory') return 'memory';
  return JSON.stringify([s.url, s.username, s.caPem, s.keyPrefix, s.timeoutMs]);
}

function storePasswordChanged(a: Config, b: Config): boolean {
  const pa = a.store.type === 'redis' ? a.store.password : undefined;
  const pb = b.store.type === 'redis' ? b.store.password : undefined;
  if (pa === undefined || pb === undefined) return pa !== pb;
  return !pa.equals(pb);
}

/** A config error as log fields: each problem with its YAML path and line; never the file's content. */
function describeConfigError(err: unknown): unknown {
  if (err instanceof ConfigErrors) return err.errors.map(describeOne);
  if (err instanceof ConfigError) return [describeOne(err)];
  return [{ message: err instanceof Error ? err.message : String(err) }];
}

function describeOne(e: ConfigError): Record<string, unknown> {
  // The message repeats the path (`acl[3].match.team: unknown key`); the field says it already.
  const message =
    e.path && e.message.startsWith(`${e.path}: `) ? e.message.slice(e.path.length + 2) : e.message;
  return { path: e.path, ...(e.line !== undefined ? { line: e.line } : {}), message };
}

/**
 * Logs where the server listens and the registry's `auth.token` settings (every start), and
 * prints the block to paste when this start created the development key (its first start): a
 * key from `regauth keys init` had its block printed by that command.
 */
function logStartup(logger: Logger, config: Config, url: string, printBlock: boolean): void {
  const service = config.token.services[0] ?? 'registry.example.com';
  const realm = `${url.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1')}${config.server.pathPrefix}/auth`;
  const trust = registryTrustFiles(config.token.keyPath, config.token.certificatePath);
  const fields = { realm, service, issuer: config.token.issuer, bundle: trust.bundle, jwks: trust.jwks };
  logger.info(
    {
      url,
      kid: config.token.key.kid,
      alg: config.token.key.alg,
      rootcertbundle: trust.bundle,
      registryAuthToken: {
        realm,
        service,
        issuer: config.token.issuer,
        rootcertbundle: trust.bundle,
        ...(trust.jwks ? { jwks: trust.jwks } : {}),
      },
    },
    `regauth listening on ${url}; registry config: auth.token.rootcertbundle must point to ${trust.bundle}`,
  );
  if (!printBlock) return;
  process.stderr.write(
    `\nPaste into the registry config (config.yml); realm must be the URL clients use to reach regauth:\n${registryAuthBlock(fields)}\n`,
  );
}
