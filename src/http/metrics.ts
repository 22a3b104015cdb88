import type { Response } from 'express';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/log.js';
import type { Readiness } from '../pipeline/health.js';
import type { Metrics } from '../pipeline/metrics.js';
import { compileRoutes, getAndHead, readableTargetsOnly, routedApp, type Route } from './dispatch.js';
import { answerNodeErrors } from './errors.js';
import { applyConnectionLimits, closeAtShutdown, listenerOptions, type ConnectionLimits } from './limits.js';

/** GET /metrics: the registry in Prometheus text format. */
export function metricsHandler(metrics: Metrics): (req: unknown, res: Response) => Promise<void> {
  return async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(text);
  };
}

/**
 * The separate metrics listener (`metrics.addr`): /metrics, and `/readyz` with the reason of
 * every check (the public `/readyz` says only ready or not), so scrapers and operators can be
 * let in on an internal address while the token endpoint is public. Its connections are bound
 * as the token listener's are (`server.max_connections` and deadlines): both take the process's
 * file descriptors.
 */
export async function startMetricsServer(
  metrics: Metrics,
  listen: { host?: string | undefined; port: number },
  limits: ConnectionLimits,
  readiness?: () => Promise<Readiness>,
  /** Where a 5xx of this listener is logged, as the main listener's are. */
  logger?: Logger,
): Promise<{ url: string; server: Server; close(graceMs?: number): Promise<void> }> {
  const routes: Route[] = [{ paths: ['/metrics'], methods: getAndHead(metricsHandler(metrics)) }];
  if (readiness) {
    routes.push({
      paths: ['/readyz'],
      methods: getAndHead(async (_req, res) => {
        const r = await readiness();
        res.setHeader('Cache-Control', 'no-store');
        res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not ready', checks: r.checks });
      }),
    });
  }
  // No 401 is ever written here; the realm is only what sendError asks for.
  const app = routedApp(compileRoutes(routes, ''), { realm: () => 'regauth', ...(logger ? { logger } : {}) });
  const server = createServer(listenerOptions(limits), readableTargetsOnly(app));
  applyConnectionLimits(server, limits);
  answerNodeErrors(server);
  // Requests in flight, so that a shutdown lets them finish (a scrape, a readiness check that may
  // take its 2 s) and closes the kept-alive connections once none is left.
  let inFlight = 0;
  let closing = false;
  server.on('request', (_req, res: ServerResponse) => {
    inFlight++;
    if (closing) closeAtShutdown(res);
    res.once('close', () => {
      if (--inFlight === 0 && closing) server.closeAllConnections();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    // Stops accepting; requests in flight get up to `graceMs`, then every connection is closed.
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        closing = true;
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        if (inFlight === 0) server.closeAllConnections();
      }),
  };
}
