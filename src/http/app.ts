import type express from 'express';
import type { Lockout } from '../guard/lockout.js';
import type { LoginQueue } from '../guard/login-queue.js';
import type { ReadinessProbe } from '../pipeline/health.js';
import type { Metrics } from '../pipeline/metrics.js';
import type { Logger } from '../core/log.js';
import type { Runtime } from '../pipeline/runtime.js';
import type { Store } from '../store/types.js';
import type { RecentDecisions } from '../authz/recent-decisions.js';
import { compileRoutes, mainDispatch, routedApp, type PathEntry } from './dispatch.js';
import { routeTable } from './routes.js';

export interface AppDeps {
  /** The current runtime; read once per request so a reload never splits a request. */
  readonly runtime: () => Runtime;
  /**
   * Marks a request, from its start until the returned function is called, as holding the
   * runtime current then: a reload closes a replaced runtime's backends only once none holds it.
   */
  readonly hold?: () => () => void;
  readonly logger: Logger;
  /** Unix time in milliseconds (injectable for tests). */
  readonly now?: () => number;
  /** Counters for /metrics and the token endpoint; absent: no metrics. */
  readonly metrics?: Metrics;
  /** False when /metrics is served on its own listener (`metrics.addr`) instead. */
  readonly serveMetrics?: boolean;
  /** Brute-force protection; absent: none. */
  readonly lockout?: Lockout;
  /** The bound on uncached logins in flight; absent: none. */
  readonly loginQueue?: LoginQueue;
  /** Readiness, shared with the metrics listener (one log line per change); default: its own. */
  readonly readiness?: ReadinessProbe;
  /** The store (`store:`): with a shared one, sign-outs and spent login cookies hold across replicas. */
  readonly store?: Store;
  /** The recent decisions a reload compares (`log.recent_decisions`); absent: none kept. */
  readonly recent?: RecentDecisions;
}

/**
 * Builds the Express app: the only place that knows HTTP. Every path is dispatched from the route
 * table (routes.ts), under `server.path_prefix`; `routes` is passed in when the server also
 * dispatches from it (server.ts), so both read one table.
 */
export function createApp(
  deps: AppDeps,
  routes: ReadonlyMap<string, PathEntry> = compileRoutes(
    routeTable(deps, deps.runtime().config.server.pathPrefix),
    deps.runtime().config.server.pathPrefix,
  ),
): express.Express {
  return routedApp(routes, mainDispatch(deps));
}
