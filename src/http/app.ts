import express, { type NextFunction, type Request, type Response } from 'express';
import type { Lockout } from '../guard/lockout.js';
import type { LoginQueue } from '../guard/login-queue.js';
import { readinessProbe, type ReadinessProbe } from '../pipeline/health.js';
import type { Metrics } from '../pipeline/metrics.js';
import type { Logger } from '../core/log.js';
import type { Runtime } from '../pipeline/runtime.js';
import { jwks } from '../token/sign.js';
import { sendError, type ErrorStyle } from './errors.js';
import { oidcRoutes } from './oidc.js';
import { uiRoutes } from './ui.js';
import type { Store } from '../store/types.js';
import { metricsHandler } from './metrics.js';
import { createTokenHandler } from './token.js';
import type { RecentDecisions } from '../authz/recent-decisions.js';
import { CATALOG_PATH, createCatalogHandler } from './catalog.js';

export interface AppDeps {
  /** The current runtime; read once per request so a reload never splits a request. */
  readonly runtime: () => Runtime;
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

/** The body limit: a token request is a few hundred bytes; 64 KiB is generous. */
const BODY_LIMIT = 64 * 1024;

/** Builds the Express app: the only place that knows HTTP. Routes live under `server.path_prefix`. */
export function createApp(deps: AppDeps): express.Express {
  const now = deps.now ?? Date.now;
  const prefix = deps.runtime().config.server.pathPrefix;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  // The prefix is matched case-sensitively like the routes under it (`/REGAUTH/metrics` is not
  // `/regauth/metrics`), so a proxy rule on the exact path cannot be sidestepped by case.
  app.set('case sensitive routing', true);

  const router = express.Router({ caseSensitive: true, strict: false });
  const tokenPaths = ['/auth', '/auth/token'];
  const readForm = express.text({ type: () => true, limit: BODY_LIMIT, defaultCharset: 'utf-8' });

  const handleToken = createTokenHandler(deps);
  const methodNotAllowed = (_req: Request, res: Response) => {
    res.setHeader('Allow', 'GET, POST');
    sendError(res, 'docker', new MethodNotAllowed(), realm());
  };
  // Express answers HEAD with a GET route: without this, HEAD would authenticate and sign a token
  // (server.ts sends only GET to the fast path, so HEAD always arrives here).
  router.head(tokenPaths, methodNotAllowed);
  router.get(tokenPaths, (req, res) => void handleToken(req, res, 'GET'));
  router.post(tokenPaths, (req, res, next) => {
    readForm(req, res, (err?: unknown) => {
      if (err) return next(err);
      void handleToken(req, res, 'POST');
    });
  });
  router.all(tokenPaths, methodNotAllowed);

  router.get('/.well-known/jwks.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(jwks([deps.runtime().config.token.key]));
  });
  router.use(oidcRoutes({ runtime: deps.runtime, logger: deps.logger, now, prefix, store: deps.store }));
  router.use(uiRoutes({ ...deps, prefix }));
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Public: ready or not, no reasons (they can name internal addresses); see readinessProbe.
  const probe = deps.readiness ?? readinessProbe(deps.logger);
  router.get('/readyz', (_req, res, next) => {
    probe.probe(deps.runtime()).then((r) => {
      res.setHeader('Cache-Control', 'no-store');
      res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not ready' });
    }, next);
  });
  if (deps.metrics && deps.serveMetrics !== false) router.get('/metrics', metricsHandler(deps.metrics));

  // The registry's own path, not under path_prefix: HAProxy routes it here unchanged.
  const handleCatalog = createCatalogHandler(deps);
  app.get(CATALOG_PATH, (req, res) => void handleCatalog(req, res));
  app.all(CATALOG_PATH, (_req, res) => {
    res.setHeader('Allow', 'GET');
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    res.status(405).json({ errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] });
  });

  app.use(prefix || '/', router);
  app.use((_req, res) => {
    res.status(404).json({ errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
  });
  // Errors thrown outside the token handler (body parser: too large, bad charset).
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const style: ErrorStyle = req.method === 'POST' ? 'oauth2' : 'docker';
    const mapped = sendError(res, style, err, realm());
    if (mapped.status >= 500) deps.logger.error({ err }, 'request failed');
  });

  function realm(): string {
    return deps.runtime().config.token.issuer;
  }

  return app;
}

class MethodNotAllowed extends Error {
  readonly status = 405;
}
