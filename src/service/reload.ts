import { describeComparison, type RecentDecisions } from '../authz/recent-decisions.js';
import type { Config } from '../config/load.js';
import { storeConnectionChanged } from '../store/config.js';
import { ConfigError, ConfigErrors } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Metrics } from '../pipeline/metrics.js';
import { asksExtAuthz } from '../pipeline/pipeline.js';
import { closeRuntime, createRuntime, type Runtime, type RuntimeDeps } from '../pipeline/runtime.js';

/**
 * How long a replaced runtime's backends stay open at least, for work that outlives its request's
 * reply (a run cancelled by a client that hung up); past it, until no request holds it.
 */
const RETIRE_AFTER_MS = 30_000;

/** What a reload swaps, and what it reports to. */
export interface ReloadDeps {
  readonly configFile: string;
  load(): Promise<Config>;
  readonly runtimeDeps: RuntimeDeps;
  /** The config the server started with: start-only keys are compared with it. */
  readonly started: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly recent: RecentDecisions;
}

/** The current runtime, swapped by reload(); one reload runs at a time. */
export class Reloader {
  #current: Runtime;
  /**
   * Runtimes replaced by a reload whose backends are not closed yet (requests may still use
   * them): the generation they were current in, and whether RETIRE_AFTER_MS has passed.
   */
  readonly #retiring = new Map<Runtime, { readonly generation: number; graceOver: boolean }>();
  /** The current runtime's generation: one more at every swap. */
  #generation = 0;
  /**
   * Requests in flight by the generation they started in (hold). A request may read the runtime
   * later than it starts (a POST, after its body): whichever it reads was current at or after
   * its start, so a runtime of generation g is unused once no request that started at g or
   * before is in flight.
   */
  readonly #inFlight = new Map<number, number>();
  #queue: Promise<void> = Promise.resolve();
  /** The reload asked for that has not started loading yet, if any. */
  #waiting: Promise<void> | undefined;
  /** Whether a reload asked for by hand (SIGHUP) is among those the waiting one stands for. */
  #askedByHand = false;
  /** What the last reload that failed said, until one succeeds. */
  #lastFailure: string | undefined;
  /** Set by close(): no reload starts or swaps after it. */
  #closed = false;
  readonly #onSwap: ((config: Config) => void)[] = [];
  readonly #onReload: ((config: Config, refusedFiles: readonly string[]) => void)[] = [];
  readonly #deps: ReloadDeps;

  constructor(first: Runtime, deps: ReloadDeps) {
    this.#current = first;
    this.#deps = deps;
  }

  get current(): Runtime {
    return this.#current;
  }

  /** Calls `fn` with the new config after each swap (connection limits). */
  whenSwapped(fn: (config: Config) => void): void {
    this.#onSwap.push(fn);
  }

  /**
   * Calls `fn` after each reload, failed ones included, with the config in use then and, after a
   * failed one, the files the refused config names (the watched files: a failed reload may have
   * followed a swapped symlink, whose new target must be watched for the fix, or named a file
   * not written yet, whose writing is the fix).
   */
  whenReloaded(fn: (config: Config, refusedFiles: readonly string[]) => void): void {
    this.#onReload.push(fn);
  }

  /**
   * Loads again and swaps; a SIGHUP during a file-triggered reload waits for it, then loads again.
   * Every reload asked for while one waits to start is that one: it reads the files after all of
   * them, and a flood of signals queues one load, not one per signal.
   * `byWatcher`: asked for by the file watcher; a failure that says what the last one said is
   * then not logged again (only counted): a refused config may name a file its own error line
   * changes (regauth's log file), and each line would otherwise ask for the next reload. By hand
   * (SIGHUP), every failure is told.
   */
  reload(options: { byWatcher?: boolean } = {}): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (options.byWatcher !== true) this.#askedByHand = true;
    if (this.#waiting) return this.#waiting;
    const run = this.#queue
      .catch(() => undefined)
      .then(() => {
        this.#waiting = undefined;
        if (this.#closed) return;
        const byHand = this.#askedByHand;
        this.#askedByHand = false;
        return this.#reloadOnce(byHand).then(
          () => this.#reloaded([]),
          (err: unknown) => {
            this.#reloaded(err instanceof ConfigErrors ? err.files : []);
            throw err;
          },
        );
      });
    this.#waiting = run;
    this.#queue = run;
    return run;
  }

  #reloaded(refusedFiles: readonly string[]): void {
    // Once closed, nothing listens any more (the watcher is closed too).
    if (this.#closed) return;
    for (const fn of this.#onReload) fn(this.#current.config, refusedFiles);
  }

  /**
   * Closes the current runtime and every retiring one, once a reload under way has finished (what
   * it made is closed, not swapped in); no reload starts after this.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue.catch(() => undefined);
    await Promise.all([this.#current, ...this.#retiring.keys()].map(closeRuntime));
  }

  async #reloadOnce(byHand: boolean): Promise<void> {
    const { configFile, logger: log, metrics } = this.#deps;
    let next: Runtime;
    try {
      next = createRuntime(await this.#deps.load(), this.#deps.runtimeDeps);
    } catch (err) {
      if (this.#closed) return;
      metrics.reloads.inc({ result: 'failure' });
      const errors = describeConfigError(err);
      // The watcher's reload that fails saying what the last one said is not told again.
      const said = JSON.stringify(errors);
      const again = !byHand && said === this.#lastFailure;
      this.#lastFailure = said;
      // Not even at debug level: that line, too, would be the next change.
      if (!again)
        log.error({ config: configFile, errors }, 'config reload failed; keeping the current config');
      throw err;
    }
    this.#lastFailure = undefined;
    if (this.#closed) {
      // Closed while this one loaded: nothing will serve it.
      await closeRuntime(next);
      return;
    }
    for (const key of startOnlyChanges(this.#deps.started, next.config)) {
      log.warn({ key, config: configFile }, startOnlyMessage(key, next.config));
    }
    // Counts and locks are kept per client, and an IPv6 client is its network of this many bits:
    // under another prefix every IPv6 client is another client.
    const [was, is] = [this.#current.config.lockout.ipv6_prefix, next.config.lockout.ipv6_prefix];
    if (was !== is) {
      log.warn(
        { key: 'lockout.ipv6_prefix', config: configFile },
        `lockout.ipv6_prefix changed from ${was} to ${is}: IPv6 clients are counted anew, their failure counts and locks under the old prefix no longer apply`,
      );
    }
    this.#swap(next);
    log.info({ config: configFile }, 'config reloaded');
    this.#reportDecisionChanges(next.config);
  }

  #swap(next: Runtime): void {
    const previous = this.#current;
    this.#current = next;
    this.#deps.metrics.reloads.inc({ result: 'success' });
    if (!process.env['REGAUTH_LOG_LEVEL']) this.#deps.logger.level = next.config.log.level;
    // Requests that already use `previous` finish with it; its backends close after a grace
    // period, and not before the last request that may use it has ended (an ext_auth run may
    // take 60 s and more).
    const retired = { generation: this.#generation++, graceOver: false };
    this.#retiring.set(previous, retired);
    setTimeout(() => {
      retired.graceOver = true;
      this.#closeUnused();
    }, RETIRE_AFTER_MS).unref();
    for (const fn of this.#onSwap) fn(next.config);
  }

  /**
   * Marks a request that starts now as in flight, holding the runtime current now and any that
   * replaces it before it reads one; the function returned ends the hold (once, whatever the
   * number of calls).
   */
  hold(): () => void {
    const generation = this.#generation;
    this.#inFlight.set(generation, (this.#inFlight.get(generation) ?? 0) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = this.#inFlight.get(generation)! - 1;
      if (left > 0) this.#inFlight.set(generation, left);
      else {
        this.#inFlight.delete(generation);
        this.#closeUnused();
      }
    };
  }

  /** Closes each replaced runtime whose grace period is over and that no request in flight may use. */
  #closeUnused(): void {
    let oldest = Infinity;
    for (const generation of this.#inFlight.keys()) oldest = Math.min(oldest, generation);
    for (const [runtime, retired] of this.#retiring) {
      if (!retired.graceOver || oldest <= retired.generation) continue;
      this.#retiring.delete(runtime);
      void closeRuntime(runtime);
    }
  }

  /** `log.recent_decisions`: how many recent decisions the new config changes. */
  #reportDecisionChanges(config: Config): void {
    const { recent, metrics, logger } = this.#deps;
    recent.resize(config.log.recent_decisions);
    if (recent.size === 0) return;
    const c = recent.compare(config.acl, (service) => asksExtAuthz(config, service));
    metrics.reloadDecisionChanges.inc({ direction: 'fewer' }, c.fewer);
    metrics.reloadDecisionChanges.inc({ direction: 'more' }, c.more);
    logger.info(
      { compared: c.compared, changed: c.changed, fewer: c.fewer, more: c.more },
      describeComparison(c),
    );
  }
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
    // The lockout's tables are sized once, at start (src/store/memory.ts).
    ['lockout.max_entries', started.lockout.max_entries !== next.lockout.max_entries],
    ['store', storeConnectionChanged(started.store, next.store)],
  ];
  return changed.filter(([, differs]) => differs).map(([key]) => key);
}

/**
 * The warning for a start-only key a reload found changed. Without `token.key`, `server.key` and
 * `server.certificate` also sign the tokens (docker_auth's way), and signing takes the new files at
 * once, as it does `token.key`'s: only the TLS listener keeps the old ones.
 */
function startOnlyMessage(key: string, next: Config): string {
  const tls = next.server.tls;
  const signs =
    tls !== undefined &&
    ((key === 'server.key' && next.token.keyPath === tls.keyPath) ||
      (key === 'server.certificate' && next.token.certificatePath === tls.certificatePath));
  return signs
    ? `${key} changed; the TLS listener keeps the old one until regauth is restarted, but tokens are signed with the new one now (without token.key, ${key} also signs the tokens)`
    : `${key} changed; it applies at start only, so the running server keeps the old value until regauth is restarted`;
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
