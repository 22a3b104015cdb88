import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config/load.js';

/** What bounds every listener's connections: `server.max_connections` and its two deadlines. */
export type ConnectionLimits = Pick<
  Config['server'],
  'maxConnections' | 'headersTimeoutMs' | 'requestTimeoutMs'
>;

/** How often node looks for connections past their header or request deadline. */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;

/**
 * The options a listener is made with. Slow clients (a connection that sends nothing, half a
 * header, a body a byte at a time) are cut off within seconds: the header and the whole request
 * each have a deadline, checked every second (node's default check runs every 30 s, so a
 * deadline could be missed by that).
 */
export function listenerOptions(limits: ConnectionLimits): {
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
  requireHostHeader: boolean;
} {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    // node's own refusal of an HTTP/1.1 request without Host is an empty, non-JSON 400; the
    // listener answers it in JSON instead (dispatch.ts readableTargetsOnly).
    requireHostHeader: false,
  };
}

/** How long past request_timeout a reply may stall before its connection is closed. */
const STALLED_MS = 2 * CONNECTIONS_CHECKING_INTERVAL_MS;

/**
 * Sets `server.max_connections` and the two deadlines on a running listener (at start, and again
 * after a reload). Past `max_connections` open connections a new one is closed at once, so a
 * flood cannot use up the process's file descriptors.
 */
export function applyConnectionLimits(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  // Between requests, a keep-alive connection has headers_timeout too (node's default is 5 s).
  server.keepAliveTimeout = limits.headersTimeoutMs;
  // Every header line is kept: node's default keeps the first 1000 and drops the rest silently,
  // so a client sending that many tiny ones ahead of what its proxy appends (an X-Forwarded-For
  // after the client's headers) had the proxy taken for the client. The header size limit (16 KiB)
  // still bounds them.
  server.maxHeadersCount = 0;
  // A client that stops reading its replies: node stops reading its requests, and neither
  // deadline above runs, so the connection held its slot for ever. With nothing sent or received
  // for STALLED_MS past request_timeout, a connection whose reply waits to be written is closed;
  // one whose request waits for a backend (nothing to write yet) is left alone. Later than the
  // deadlines above, so a request sent too slowly still gets their 408 first.
  server.timeout = limits.requestTimeoutMs + STALLED_MS;
  // Once per listener: this runs again on every reload.
  if (!server.listeners('request').includes(watchReply)) server.on('request', watchReply);
  // The peer's address is read as its connection is accepted (node keeps it from then on; on TLS,
  // the socket a request comes on is the one the handshake made). Read first by a handler, a
  // client that sent its request and reset the connection had none by then: its password was
  // checked and counted, its audit line said `ip: null`, its lockout fell to the shared `-` client.
  for (const event of ['connection', 'secureConnection']) {
    if (!server.listeners(event).includes(notePeer)) server.on(event, notePeer);
  }
}

function notePeer(socket: Socket): void {
  if (socket.remoteAddress !== undefined) return;
  // A TLS socket whose client reset by the end of the handshake has no address of its own to read
  // any more: it takes the one its TCP connection had when accepted (read then, on 'connection').
  // `_parent` is node's own link from a server's TLS socket to that connection.
  const parent = (socket as Socket & { _parent?: Socket })._parent;
  if (parent?.remoteAddress === undefined) return;
  Object.defineProperties(socket, {
    remoteAddress: { value: parent.remoteAddress },
    remoteFamily: { value: parent.remoteFamily },
    remotePort: { value: parent.remotePort },
  });
}

/** A listener on the reply keeps node from closing the connection on its own while it is made. */
function watchReply(_req: IncomingMessage, res: ServerResponse): void {
  res.on('timeout', closeIfStalled);
}

function closeIfStalled(socket: Socket): void {
  if (socket.writableLength > 0) socket.destroy();
}

/**
 * Connections whose last reply is decided (closeAfterReply), each with the request that reply is
 * for: no later request on them is answered.
 */
const closing = new WeakMap<object, IncomingMessage>();

/**
 * Whether `req` came on a connection whose last reply was already decided: the client was told
 * `Connection: close`, and while the connection lingers its parser still reads requests, which
 * must not be processed (RFC 9112 §9.6) nor answered.
 */
export function onClosingConnection(req: IncomingMessage): boolean {
  const last = closing.get(req.socket);
  return last !== undefined && last !== req;
}

/** How long a connection closed under a body still arriving reads (and drops) it before closing. */
const LINGER_MS = 2000;

/**
 * Closes the connection once the reply to `req` is written, without losing that reply to a client
 * still sending the body it was refused for (over the limit, or without Host). node closes such a
 * connection as soon as the reply is written; the kernel answers the body bytes that still
 * arrive with a reset, and a client still writing them got that (EPIPE) instead of the reply.
 * Instead its side is ended and what still comes is read and dropped for LINGER_MS at most
 * ("lingering close"), so the client reads the reply before the connection goes.
 */
export function closeAfterReply(req: IncomingMessage, res: ServerResponse): () => void {
  const keepAlive = res.shouldKeepAlive;
  res.shouldKeepAlive = false;
  // The request's socket: a reply queued behind an earlier pipelined one has none yet.
  const socket = req.socket as (Socket & { destroySoon?: () => void }) | null;
  if (!socket) return () => void (res.shouldKeepAlive = keepAlive && !shutDown.has(res));
  // An earlier request's reply is the connection's last already: that mark stays. This one's,
  // asked again (an upgrade request waiting for 100 Continue): no undo lifts it any more.
  const last = closing.get(socket);
  if (last === req) pinned.add(req);
  if (last !== undefined) return NO_UNDO;
  closing.set(socket, req);
  // node ends a connection not kept alive with destroySoon() once the reply is written (its
  // `_http_server` resOnFinish); what it does is replaced for this connection only.
  socket.destroySoon = () => {
    socket.end();
    req.resume();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
  // The reply's head is out already: node decided then whether to keep the connection, and
  // reads the mark no more. Closed here once the reply is written, or the connection would stay
  // open with every later request on it unanswered (onClosingConnection).
  if (res.headersSent) {
    if (res.writableFinished) socket.destroySoon();
    else res.once('finish', () => socket.destroySoon?.());
  }
  // Undone for a request whose client waited for `100 Continue` and got it (errors.ts).
  return () => {
    if (closing.get(socket) !== req || pinned.has(req)) return;
    res.shouldKeepAlive = keepAlive && !shutDown.has(res);
    closing.delete(socket);
    delete (socket as { destroySoon?: unknown }).destroySoon;
  };
}

const NO_UNDO = (): void => undefined;

/** Replies a shutdown told to close their connection (closeAtShutdown): no undo reopens it. */
const shutDown = new WeakSet<ServerResponse>();

/**
 * Marks a reply made while the listener shuts down: it closes its connection (`Connection:
 * close`), whatever else is decided or undone about it meanwhile (closeAfterReply's undo for a
 * request that got its `100 Continue`).
 */
export function closeAtShutdown(res: ServerResponse): void {
  res.shouldKeepAlive = false;
  shutDown.add(res);
}

/** Requests whose connection was to close for two reasons: the undo of one leaves the other. */
const pinned = new WeakSet<IncomingMessage>();
