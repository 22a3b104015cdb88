import { resolve } from 'node:path';
import { RecentDecisions } from '../authz/recent-decisions.js';
import { parseListenAddress, type Config } from '../config/load.js';
import { ConfigError, isSystemError } from '../core/errors.js';
import { outputFiles, watchConfigFiles } from '../config/watch.js';
import type { Logger } from '../core/log.js';
import { Lockout } from '../guard/lockout.js';
import { LoginQueue } from '../guard/login-queue.js';
import type { AppDeps } from '../http/app.js';
import { startMetricsServer } from '../http/metrics.js';
import { applyConnectionLimits } from '../http/limits.js';
import { startServer, type RunningServer } from '../http/server.js';
import { readinessProbe, type ReadinessProbe } from '../pipeline/health.js';
import { createMetrics, instrumentAuthenticator, type Metrics } from '../pipeline/metrics.js';
import { CommandSlots } from '../ext/command.js';
import { createRuntime, type Runtime, type RuntimeDeps } from '../pipeline/runtime.js';
import { registryAuthBlock, signingKeyTrustFiles } from '../token/registry-block.js';
import { lintConfig } from '../tools/lint.js';
import { pidOneWarnings } from '../ext/config.js';
import { HeldNotices, serviceLoader } from './load.js';
import { Reloader } from './reload.js';
import { createStore } from '../store/create.js';
import type { Store } from '../store/types.js';

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
  const configFile = resolve(options.configFile);
  const notices = new HeldNotices();
  const loader = serviceLoader(configFile, resolve(options.dataDir ?? 'data'), notices);
  const metrics = options.metrics ?? createMetrics({ defaults: true });
  const first = await loader.load();
  const log = typeof options.logger === 'function' ? options.logger(first) : options.logger;
  notices.release(log);
  const runtimeDeps: RuntimeDeps = {
    logger: log,
    // For the process's life, as the lockout and the login queue: a reload adds no command slots.
    commandSlots: { ext_auth: new CommandSlots(), ext_authz: new CommandSlots() },
    ...options.runtimeDeps,
    instrument: (a) => instrumentAuthenticator(options.runtimeDeps?.instrument?.(a) ?? a, metrics),
  };
  const store = openStore(first, log, metrics);
  const recent = new RecentDecisions(first.log.recent_decisions);
  const watchedFiles = (config: Config) => [configFile, ...config.files];
  const runtimes: Reloader = new Reloader(createRuntime(first, runtimeDeps), {
    configFile,
    load: () => loader.load(runtimes.current.config),
    runtimeDeps,
    started: first,
    logger: log,
    metrics,
    recent,
  });
  const readiness = readinessProbe(log, { store });
  let listeners: Listeners;
  try {
    listeners = await startListeners(first, options, {
      runtime: () => runtimes.current,
      hold: () => runtimes.hold(),
      logger: log,
      metrics,
      readiness,
      recent,
      store,
      ...requestGuards(() => runtimes.current, metrics, store),
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  // The block of a development key made by this start, or by one that could not listen.
  const printBlock = loader.blockPending;
  logStartup(log, first, listeners.server.url, printBlock);
  if (printBlock) loader.blockShown();
  logConfigWarnings(log, first);
  runtimes.whenSwapped((config) => {
    logConfigWarnings(log, config);
    applyConnectionLimits(listeners.server.server, config.server);
    if (listeners.metricsServer) applyConnectionLimits(listeners.metricsServer.server, config.server);
  });
  const watcher =
    options.watch === false
      ? undefined
      : watchConfigFiles(() => void runtimes.reload({ byWatcher: true }).catch(() => undefined), {
          ...(options.watchDebounceMs !== undefined ? { debounceMs: options.watchDebounceMs } : {}),
          ownOutput: outputFiles(),
          onError: (err) => log.warn({ error: err.message }, 'cannot watch a config directory'),
        });
  // A reload may name other files, or a swapped symlink may lead elsewhere: re-armed after every
  // reload, failed ones too, and then also on the files the refused config names (writing the
  // one it could not read is the fix). An editor's rename needs no re-arming (directories are
  // watched).
  watcher?.watch(watchedFiles(first));
  runtimes.whenReloaded((config, refused) =>
    watcher?.watch([...new Set([...watchedFiles(config), ...refused])]),
  );

  return {
    url: listeners.server.url,
    metricsUrl: listeners.metricsServer?.url,
    metrics,
    logger: log,
    runtime: () => runtimes.current,
    reload: () => runtimes.reload(),
    async close(graceMs) {
      watcher?.close();
      await Promise.all([listeners.server.close(graceMs), listeners.metricsServer?.close(graceMs)]);
      await runtimes.close();
      await store.close();
    },
  };
}

/**
 * What `regauth validate` warns of, in the log of a config that starts or is applied by a
 * reload: an operator who never runs validate (a docker_auth config moved over as it is) is told
 * of a rule that cannot decide, or one docker_auth read otherwise. Also, ext commands run by
 * PID 1 without an init (pidOneWarnings), which only the running server can tell.
 */
function logConfigWarnings(logger: Logger, config: Config): void {
  for (const warning of [...lintConfig(config), ...pidOneWarnings(config, process.pid)]) {
    logger.warn({ path: warning.path }, `config warning: ${warning.message}`);
  }
}

/**
 * The store (`store:`) the lockout and the pages' shared state use: in memory, or Redis shared by
 * the replicas; its health goes to the log and to `regauth_store_up`.
 */
function openStore(first: Config, log: Logger, metrics: Metrics): Store {
  const store = createStore(first.store, {
    maxEntries: first.lockout.max_entries,
    onStatus: (problem) => {
      metrics.storeUp.set(problem === undefined ? 1 : 0);
      if (problem === undefined) log.info({ store: first.store.type }, 'the store answers');
      else
        log.warn({ store: first.store.type, problem }, 'the store cannot answer; see store.on_store_error');
    },
    onError: (operation) => metrics.storeErrors.inc({ operation }),
    onLockChannel: (problem) => {
      if (problem === undefined) log.info({ store: first.store.type }, 'listening to the lock channel again');
      else
        log.warn(
          { store: first.store.type, problem },
          'cannot listen to the lock channel; every cached login asks the store (see store.username)',
        );
    },
    onEvicts: (policy, maxmemory) =>
      log.warn(
        { store: first.store.type, maxmemory_policy: policy, maxmemory },
        "Redis may evict keys when its memory is full, the lockout's locks and counts among them (each has a time to live): a flood of failed logins can lift a lock early; set maxmemory-policy noeviction",
      ),
  });
  metrics.storeUp.set(store.problem() === undefined ? 1 : 0);
  return store;
}

/** The request guards, process-wide: they survive reloads and read their policy from the current config. */
function requestGuards(
  current: () => Runtime,
  metrics: Metrics,
  store: Store,
): { lockout: Lockout; loginQueue: LoginQueue } {
  const lockout = new Lockout({
    store: store.lockout,
    shared: store.shared,
    // Its own table (the clients that logged in here) is as large as the store's.
    maxEntries: current().config.lockout.max_entries,
    policy: () => current().config.lockout,
    onStoreError: () => current().config.store.onStoreError,
  });
  const loginQueue = new LoginQueue({
    policy: () => current().loginQueue,
    onChange: (pending) => metrics.loginQueuePending.set(pending),
    onReject: (reason) => metrics.loginQueueRejections.inc({ reason }),
  });
  return { lockout, loginQueue };
}

interface Listeners {
  readonly server: RunningServer;
  readonly metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
}

/**
 * Starts the token listener, and the separate metrics listener when `metrics.addr` is set (then
 * /metrics is not served on the token listener). Closes the metrics listener if the token
 * listener cannot start: it would keep the process alive after the error is reported.
 */
async function startListeners(
  config: Config,
  options: ServiceOptions,
  deps: Omit<AppDeps, 'serveMetrics'> & { readiness: ReadinessProbe; metrics: Metrics },
): Promise<Listeners> {
  const metricsAddr = config.metrics.addr;
  const metricsServer = metricsAddr
    ? await listeningAt('metrics.addr', parseListenAddress(metricsAddr, 'metrics.addr'), (listen) =>
        startMetricsServer(
          deps.metrics,
          listen,
          config.server,
          () => {
            // A probe holds the runtime it checks, as a request on the token listener does.
            const release = deps.hold?.();
            return deps.readiness.probe(deps.runtime()).finally(release);
          },
          deps.logger,
        ),
      )
    : undefined;
  try {
    const server = await listeningAt('server.addr', options.listen ?? config.server.addr, (listen) =>
      startServer({
        ...deps,
        serveMetrics: metricsServer === undefined,
        listen,
        ...(options.now ? { now: options.now } : {}),
      }),
    );
    if (metricsServer) deps.logger.info({ url: `${metricsServer.url}/metrics` }, 'serving metrics');
    return { server, metricsServer };
  } catch (err) {
    await metricsServer?.close();
    throw err;
  }
}

/**
 * Starts a listener on `listen`; an address the system refuses (a host name that does not
 * resolve, a port in use or not allowed) is an error naming the config key it came from.
 */
async function listeningAt<T>(
  key: string,
  listen: { readonly host?: string | undefined; readonly port: number },
  start: (listen: { host?: string | undefined; port: number }) => Promise<T>,
): Promise<T> {
  try {
    return await start(listen);
  } catch (err) {
    // Only the system's refusals (listen, getaddrinfo); a TLS context error, say, is not about
    // the address.
    if (!isSystemError(err)) throw err;
    const shown = listen.host?.includes(':') ? `[${listen.host}]` : (listen.host ?? '');
    throw new ConfigError(key, `cannot listen on ${shown}:${listen.port}: ${err.message}`, { cause: err });
  }
}

/**
 * Logs where the server listens and the registry's `auth.token` settings (every start), and
 * prints the block to paste when the development key is new (made by this start, or by one that
 * could not listen): a key from `regauth keys init` had its block printed by that command.
 */
function logStartup(logger: Logger, config: Config, url: string, printBlock: boolean): void {
  const service = config.token.services[0] ?? 'registry.example.com';
  const realm = `${url.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1')}${config.server.pathPrefix}/auth`;
  const trust = signingKeyTrustFiles(config.token);
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
    `regauth listening on ${url}; registry config: auth.token.rootcertbundle must point to ${trust.bundle}` +
      (trust.makeBundle
        ? ` (not written yet: ${trust.combined} holds a private key too; write the certificates alone with \`${trust.makeBundle}\`)`
        : ''),
  );
  if (!printBlock) return;
  process.stderr.write(
    `\nPaste into the registry config (config.yml); realm must be the URL clients use to reach regauth:\n${registryAuthBlock(fields)}\n`,
  );
}
