import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/load.js';
import { createApp, type AppDeps } from './app.js';
import { compileRoutes, mainDispatch, run } from './dispatch.js';
import { answerNodeErrors } from './errors.js';
import { routeTable } from './routes.js';

export interface RunningServer {
  readonly server: Server;
  /** `http://127.0.0.1:5001` (the bound address). */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes the rest. */
  close(graceMs?: number): Promise<void>;
}

/** How often node looks for connections past their header or request deadline. */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;

/**
 * Sets `server.max_connections` and the two deadlines on a running server (at start, and again
 * after a reload). Past `max_connections` open connections a new one is closed at once, so a
 * flood cannot use up the process's file descriptors.
 */
export function applyConnectionLimits(server: Server, config: Config): void {
  server.maxConnections = config.server.maxConnections;
  server.headersTimeout = config.server.headersTimeoutMs;
  server.requestTimeout = config.server.requestTimeoutMs;
}

/** Starts the listener (TLS when server.certificate/key are set) on the config's address. */
export async function startServer(
  deps: AppDeps & {
    /** Override the configured address (tests: port 0). */
    listen?: { host?: string | undefined; port: number };
  },
): Promise<RunningServer> {
  const config = deps.runtime().config;
  const prefix = config.server.pathPrefix;
  const routes = compileRoutes(routeTable(deps, prefix), prefix);
  const app = createApp(deps, routes);
  const dispatchDeps = mainDispatch(deps);
  // The hot path: a GET whose route reads only node's API (the token endpoint) is dispatched
  // from the same table without Express; anything else, or a path not matched exactly, goes
  // through Express.
  const listener: RequestListener = (req, res) => {
    if (req.method === 'GET') {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const endpoint = routes.get(q < 0 ? url : url.slice(0, q))?.methods.get('GET');
      if (endpoint?.node) return run(endpoint, req, res, dispatchDeps);
    }
    app(req, res);
  };
  const tls = config.server.tls;
  // Slow clients (a connection that sends nothing, half a header, a body a byte at a time) are
  // cut off within seconds: the header and the whole request each have a deadline, checked
  // every second (node's default check runs every 30 s, so a deadline could be missed by that).
  const limits = {
    headersTimeout: config.server.headersTimeoutMs,
    requestTimeout: config.server.requestTimeoutMs,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  };
  const server = tls
    ? createHttpsServer({ ...limits, cert: tls.certPem, key: tls.keyPem }, listener)
    : createHttpServer(limits, listener);
  applyConnectionLimits(server, config);
  answerNodeErrors(server);
  const { host, port } = deps.listen ?? config.server.addr;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tls ? 'https' : 'http'}://${shownHost}:${address.port}`;
  return {
    server,
    url,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
