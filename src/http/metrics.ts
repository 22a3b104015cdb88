import express, { type RequestHandler } from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readiness } from '../pipeline/health.js';
import type { Metrics } from '../pipeline/metrics.js';

/** GET /metrics: the registry in Prometheus text format. */
export function metricsHandler(metrics: Metrics): RequestHandler {
  return (_req, res, next) => {
    metrics.registry.metrics().then((text) => {
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.send(text);
    }, next);
  };
}

/**
 * The separate metrics listener (`metrics.addr`): /metrics, and `/readyz` with the reason of
 * every check (the public `/readyz` says only ready or not), so scrapers and operators can be
 * let in on an internal address while the token endpoint is public.
 */
export async function startMetricsServer(
  metrics: Metrics,
  listen: { host?: string | undefined; port: number },
  readiness?: () => Promise<Readiness>,
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', metricsHandler(metrics));
  if (readiness) {
    app.get('/readyz', (_req, res, next) => {
      readiness().then((r) => {
        res.setHeader('Cache-Control', 'no-store');
        res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not ready', checks: r.checks });
      }, next);
    });
  }
  app.use((_req, res) => {
    res.status(404).json({ errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
  });
  const server = createServer(app);
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
