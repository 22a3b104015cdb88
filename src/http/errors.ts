import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import * as zlib from 'node:zlib';
import { InvalidGrantError, RegauthError } from '../core/errors.js';
import { closeAfterReply, onClosingConnection } from './limits.js';

/**
 * Which error body to write: docker's errcode JSON, OAuth2's (`{"error": ...}`, the token POST),
 * or the registry's (errcode JSON with `Docker-Distribution-API-Version`, for its own path). Each
 * endpoint in the route table (routes.ts) names its style.
 */
export type ErrorStyle = 'docker' | 'oauth2' | 'registry';

interface Mapped {
  status: number;
  docker: string;
  oauth: string;
  message: string;
  retryAfter?: number;
}

/**
 * The one place errors become HTTP. Known errors give their status and a short message;
 * anything else is an opaque 500 (the cause goes to the log, never to the client).
 */
export function mapError(err: unknown): Mapped {
  if (err instanceof RegauthError) {
    switch (err.code) {
      case 'ERR_BAD_REQUEST':
        return {
          status: 400,
          docker: 'BAD_REQUEST',
          oauth: (err as { oauthError?: string }).oauthError ?? 'invalid_request',
          message: err.message,
        };
      case 'ERR_UNSUPPORTED_GRANT':
        return { status: 400, docker: 'UNSUPPORTED', oauth: 'unsupported_grant_type', message: err.message };
      case 'ERR_UNAUTHORIZED':
        return { status: 401, docker: 'UNAUTHORIZED', oauth: 'invalid_grant', message: err.message };
      case 'ERR_INVALID_GRANT':
        return {
          status: 401,
          docker: 'UNAUTHORIZED',
          oauth: 'invalid_grant',
          message: err instanceof InvalidGrantError ? err.told : err.message,
        };
      case 'ERR_TOO_MANY_REQUESTS': {
        const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
        return {
          status: 429,
          docker: 'TOOMANYREQUESTS',
          oauth: 'slow_down',
          message: err.message,
          ...(retryAfter ? { retryAfter } : {}),
        };
      }
      case 'ERR_BUSY':
        return {
          status: 503,
          docker: 'UNAVAILABLE',
          oauth: 'temporarily_unavailable',
          message: err.message,
          retryAfter: (err as { retryAfterSeconds?: number }).retryAfterSeconds ?? 1,
        };
      case 'ERR_METHOD_NOT_ALLOWED':
        return { status: 405, docker: 'UNSUPPORTED', oauth: 'invalid_request', message: err.message };
      case 'ERR_BACKEND_UNAVAILABLE':
        return {
          status: 503,
          docker: 'UNAVAILABLE',
          oauth: 'temporarily_unavailable',
          message: 'authentication backend unavailable, retry later',
          retryAfter: 5,
        };
      case 'ERR_STORE_UNAVAILABLE':
        return {
          status: 503,
          docker: 'UNAVAILABLE',
          oauth: 'temporarily_unavailable',
          message: 'state store unavailable, retry later',
          retryAfter: (err as { retryAfterSeconds?: number }).retryAfterSeconds ?? 5,
        };
      default:
        break;
    }
  }
  const status = httpStatusOf(err);
  if (status === 413)
    return { status, docker: 'SIZE_INVALID', oauth: 'invalid_request', message: 'request body too large' };
  if (status !== undefined && status >= 400 && status < 500) {
    return {
      status,
      docker: 'BAD_REQUEST',
      oauth: 'invalid_request',
      message: UNDECODABLE[typeOf(err)] ?? 'malformed request',
    };
  }
  return { status: 500, docker: 'UNKNOWN', oauth: 'server_error', message: 'internal error' };
}

/** Errors from Express' body parsers carry a 4xx `status`. */
function httpStatusOf(err: unknown): number | undefined {
  if (err && typeof err === 'object' && 'status' in err && typeof err.status === 'number') return err.status;
  return undefined;
}

/** An Express body parser's name for what it refused (`charset.unsupported`), if any. */
function typeOf(err: unknown): string {
  return err && typeof err === 'object' && 'type' in err && typeof err.type === 'string' ? err.type : '';
}

/**
 * What a body parser's 415 refused, said plainly: the body may be well formed, its encoding is
 * what regauth does not decode (the client's own text for it is not repeated).
 */
const UNDECODABLE: Readonly<Record<string, string>> = {
  'charset.unsupported': "the body's charset is not one regauth decodes; send utf-8",
  'encoding.unsupported': `the body's Content-Encoding is not one regauth decodes; send identity, gzip, deflate, ${
    // The body parser decodes zstd where node's zlib does (Node 22.15 and later).
    'createZstdDecompress' in zlib ? 'br or zstd' : 'or br'
  }`,
};

/** The registry's own message for an error code, where it has one (distribution's errcode text). */
const REGISTRY_MESSAGES: Readonly<Record<string, string>> = { UNSUPPORTED: 'The operation is unsupported.' };

/**
 * A quoted header value for display text (the Basic realm is `token.issuer`, which may hold any
 * character): a character a header cannot carry (past Latin-1, where node's setHeader throws, or
 * not printable ASCII) becomes `?`.
 */
function headerQuoted(text: string): string {
  // `?` first: JSON's escapes (`\t`, `\u0001`) would reach the client as other characters.
  return `"${text.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&')}"`;
}

/** Writes a JSON error in the requested style. */
export function sendError(res: ServerResponse, style: ErrorStyle, err: unknown, basicRealm: string): Mapped {
  const mapped = mapError(err);
  res.setHeader('Cache-Control', 'no-store');
  if (mapped.status === 401) res.setHeader('WWW-Authenticate', `Basic realm=${headerQuoted(basicRealm)}`);
  if (mapped.retryAfter) res.setHeader('Retry-After', String(mapped.retryAfter));
  if (style === 'oauth2') {
    sendJson(res, mapped.status, { error: mapped.oauth, error_description: mapped.message });
    return mapped;
  }
  let message = mapped.message;
  if (style === 'registry') {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    message = REGISTRY_MESSAGES[mapped.docker] ?? message;
  }
  sendJson(res, mapped.status, { errors: [{ code: mapped.docker, message }] });
  return mapped;
}

/**
 * Writes a JSON reply with node's own response API: what the token endpoint's hot path uses
 * instead of Express' `res.json` (which does content negotiation and charset work per call).
 */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/**
 * Makes what node's HTTP layer answers by itself JSON too, on `server` (every listener regauth
 * creates): a request it cannot parse or that timed out ('clientError': node's status, 431 for a
 * header over its 16 KiB limit, 408 past the deadlines, 413 for chunk extensions too large, 400
 * otherwise), an `Expect` other than `100-continue` (417) and CONNECT (405); `100 Continue` is sent
 * only when a body is about to be read (continueIfAwaited). Such a request never
 * reaches a route, so the reply is always docker's errcode shape, and the connection is closed.
 */
export function answerNodeErrors(server: Server): void {
  // A TLS listener passes errors of the TLS layer (a handshake that failed or timed out) to
  // 'clientError' too. No HTTP reply can go where no TLS session was set up: writing one left the
  // connection open for good, holding a max_connections slot. Such a connection is closed first.
  server.prependListener('tlsClientError', (_err: Error, socket: Duplex) => socket.destroy());
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Bytes after a request that said `Connection: close`: that request's reply, still to come,
    // is the connection's last, and what followed it is not read.
    if (err.code === 'HPE_CLOSED_CONNECTION' && inFlight(socket)) return void socket.pause();
    // Behind a request still being answered, an error reply would arrive as that request's reply
    // (node writes one as long as none of that reply is written): the connection is closed
    // instead, as behind CONNECT below. An error in the request still being read (its body too
    // slow or malformed) gets a reply of its own, as does any error with nothing in flight.
    if (socket.writable && !anotherRequestsReply(socket)) {
      const [status, code, message] = clientErrorReply(err.code);
      writeRawError(socket, status, code, message);
    } else {
      socket.destroy();
    }
  });
  // `Expect: 100-continue`: node would send 100 Continue before any listener runs. It is sent
  // once the body is going to be read (continueIfAwaited), so a request refused from its headers
  // alone (no Host, a length over the limit) is answered without it. Any reply without it ends
  // the connection (node writes `Connection: close`: the client may send the body all the same),
  // so until it is sent the connection is closed as regauth's own refusals close it: nothing
  // pipelined behind is processed, and a body still arriving is read while the reply is read.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    // Behind a refused request on a connection being closed: dropped, as every request there.
    if (onClosingConnection(req)) return void req.resume();
    awaitingContinue.set(req, closeAfterReply(req, res));
    server.emit('request', req, res);
  });
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    // Behind a refused request on a connection being closed: dropped, as every request there.
    if (onClosingConnection(req)) return void req.resume();
    // Closed as the other refusals are (Connection: close): nothing pipelined behind it is read.
    closeAfterReply(req, res);
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 417, { errors: [{ code: 'BAD_REQUEST', message: 'unsupported Expect header' }] });
  });
  server.on('connect', (_req, socket: Duplex) => {
    // Behind a request still being answered, a 405 would arrive as that request's reply: close
    // the connection instead, as node does without this listener.
    if (socket.writable && !inFlight(socket)) writeRawError(socket, 405, 'UNSUPPORTED', 'method not allowed');
    else socket.destroy();
  });
}

/**
 * Requests whose client waits for `100 Continue` before it sends the body (`Expect`), each with
 * what undoes the closing of its connection once it is sent.
 */
const awaitingContinue = new WeakMap<IncomingMessage, () => void>();

/**
 * Sends `100 Continue` to a request whose client waits for it, when its body is about to be
 * read: not before, so that a body refused from the headers alone is not invited only to be
 * thrown away with the connection.
 */
export function continueIfAwaited(req: IncomingMessage, res: ServerResponse): void {
  const keepOpen = awaitingContinue.get(req);
  if (keepOpen === undefined) return;
  awaitingContinue.delete(req);
  keepOpen();
  res.writeContinue();
}

/**
 * The response node has attached to a connection, still to be written or being written (node's
 * `socket._httpMessage`, which its own clientError handling reads; undocumented).
 */
function inFlight(socket: Duplex): InFlightReply | null | undefined {
  return (socket as Duplex & { _httpMessage?: InFlightReply | null })._httpMessage;
}

/** What is read of node's response on a connection (`req` is ServerResponse's own). */
interface InFlightReply {
  readonly headersSent: boolean;
  readonly req?: IncomingMessage;
}

/**
 * Whether an error now would come after another reply: the connection's attached reply answers
 * a request that arrived whole (so the error concerns bytes after it) or has begun, or the
 * request still being read was answered already. Not when that request still awaits its reply.
 */
function anotherRequestsReply(socket: Duplex): boolean {
  const reply = inFlight(socket);
  if (!reply) {
    // No reply attached, yet the request being read is not whole: its reply went out before its
    // body ended (node's `socket.parser.incoming`, undocumented). An error now would be a second.
    const parser = (socket as Duplex & { parser?: { incoming?: IncomingMessage | null } | null }).parser;
    return parser?.incoming?.complete === false;
  }
  return reply.headersSent || reply.req?.complete !== false;
}

function clientErrorReply(code: string | undefined): [number, string, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'SIZE_INVALID', 'request header too large'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'SIZE_INVALID', 'request body too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'BAD_REQUEST', 'request timeout'];
    default:
      return [400, 'BAD_REQUEST', 'malformed request'];
  }
}

/**
 * A whole HTTP/1.1 error reply written on the socket itself, where node gives no response object;
 * the socket is destroyed once the reply is flushed (destroying it at once could drop the reply).
 * A CONNECT's socket comes with no 'error' listener (node takes its own off before it hands the
 * socket over): without one, a client that resets the connection while the reply is written
 * would make an uncaught exception of the failed write, and the process would exit.
 */
function writeRawError(socket: Duplex, status: number, code: string, message: string): void {
  if (socket.listenerCount('error') === 0) socket.on('error', () => socket.destroy());
  const body = JSON.stringify({ errors: [{ code, message }] });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Cache-Control: no-store\r\n' +
      'Connection: close\r\n\r\n' +
      body,
    () => socket.destroy(),
  );
}
