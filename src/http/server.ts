import {
  createServer as createHttpServer,
  Server,
  type RequestListener,
  type ServerResponse,
} from 'node:http';
import { finished } from 'node:stream';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createApp, type AppDeps } from './app.js';
import { compileRoutes, mainDispatch, readableTargetsOnly, run } from './dispatch.js';
import { answerNodeErrors } from './errors.js';
import { applyConnectionLimits, closeAtShutdown, listenerOptions } from './limits.js';
import { routeTable } from './routes.js';

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
  // through Express. Both see the target in origin form.
  const { hold } = deps;
  /** Set once close() began: every reply from then on closes its connection. */
  let closing = false;
  const dispatch: RequestListener = readableTargetsOnly((req, res) => {
    if (hold) res.once('close', hold());
    if (req.method === 'GET') {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const endpoint = routes.get(q < 0 ? url : url.slice(0, q))?.methods.get('GET');
      if (endpoint?.node) return run(endpoint, req, res, dispatchDeps);
    }
    app(req, res);
  });
  // Marked before anything answers it, a refusal of its target included.
  const listener: RequestListener = (req, res) => {
    if (closing) closeAtShutdown(res);
    dispatch(req, res);
  };
  const tls = config.server.tls;
  const options = listenerOptions(config.server);
  const server = tls
    ? // A connection that never completes its handshake is closed at headers_timeout, as one that
      // sends no request (node's default would be 120 s). Read once, when the listener is made.
      createHttpsServer(
        { ...options, handshakeTimeout: config.server.headersTimeoutMs, cert: tls.certPem, key: tls.keyPem },
        listener,
      )
    : createHttpServer(options, listener);
  applyConnectionLimits(server, config.server);
  answerNodeErrors(server);
  // The open connections (each holds its reply in the making as node's `_httpMessage`), so that a
  // shutdown can tell the replies in flight to close theirs: a keep-alive client would otherwise
  // go on sending requests on it, answered until the grace ends and then cut off.
  const connections = new Set<Socket>();
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
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
        closing = true;
        const replyOf = (socket: Socket) =>
          (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
        for (const socket of connections) {
          const reply = replyOf(socket);
          if (reply && !reply.headersSent) closeAtShutdown(reply);
        }
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        // Replies whose head is out but whose body is still being written (a large page, a slow
        // reader), at close() or begun since on a kept-alive connection: node counts their
        // connections idle once the reply is ended, and closing the idle connections would cut
        // them off. The idle connections are closed once no reply is being written.
        const closeIdle = Server.prototype.closeIdleConnections.bind(server);
        const writing = () =>
          [...connections]
            .map(replyOf)
            .filter((r): r is ServerResponse => !!r?.headersSent && !r.writableFinished);
        const closeIdleOnceWritten = () => {
          const replies = writing();
          if (replies.length === 0) {
            delete (server as { closeIdleConnections?: unknown }).closeIdleConnections;
            closeIdle();
            return;
          }
          // server.close() closes the idle connections itself: not while a reply is being written.
          server.closeIdleConnections = () => undefined;
          let left = replies.length;
          // Once node has handled each reply's end (its connection now idle, kept alive or not).
          const written = () => void (--left === 0 && setImmediate(closeIdleOnceWritten));
          for (const reply of replies) finished(reply, written);
        };
        closeIdleOnceWritten();
        // Stops accepting, and closes the idle connections (all of them, or once replies being
        // written are written).
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
