import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createApp, type AppDeps } from './app.js';
import { createTokenHandler, tokenPaths } from './token.js';

export interface RunningServer {
  readonly server: Server;
  /** `http://127.0.0.1:5001` (the bound address). */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes the rest. */
  close(graceMs?: number): Promise<void>;
}

/** Starts the listener (TLS when server.certificate/key are set) on the config's address. */
export async function startServer(
  deps: AppDeps & {
    /** Override the configured address (tests: port 0). */
    listen?: { host?: string; port: number };
  },
): Promise<RunningServer> {
  const config = deps.runtime().config;
  const app = createApp(deps);
  // The hot path: GET token requests go straight to the handler, without Express' router.
  const handleToken = createTokenHandler(deps);
  const fastPaths = new Set(tokenPaths(config.server.pathPrefix));
  const listener: RequestListener = (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (req.method === 'GET' && fastPaths.has(q < 0 ? url : url.slice(0, q)))
      void handleToken(req, res, 'GET');
    else app(req, res);
  };
  const tls = config.server.tls;
  const server = tls
    ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, listener)
    : createHttpServer(listener);
  // Keep slow clients from holding sockets forever; docker gives up on a token after 15 s anyway.
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
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
