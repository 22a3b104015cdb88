import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { MethodNotAllowedError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Runtime } from '../pipeline/runtime.js';
import { sendError, sendJson, type ErrorStyle } from './errors.js';
import { closeAfterReply, onClosingConnection } from './limits.js';

/** The methods a route may answer. */
export type Method = 'GET' | 'HEAD' | 'POST';

/** Writes `err` in the endpoint's error style; returns the HTTP status written. */
export type Fail = (err: unknown) => number;

/** A request on node's own API, plus what Express adds when it is the one calling. */
export type NodeRequest = IncomingMessage & { body?: unknown; originalUrl?: string };

/**
 * What one method of a route does. `node: true` says the handler reads only node's own request
 * and response API, so the server may call it without Express (server.ts, GET only). A handler
 * that rejects gets its error written with `fail` (and logged when it is a 5xx).
 */
export type Endpoint = {
  /** How this endpoint's errors are written: docker's errcode JSON, OAuth2's, or the registry's. */
  readonly errors: ErrorStyle;
} & (
  | { readonly node: true; readonly handle: (req: NodeRequest, res: ServerResponse, fail: Fail) => unknown }
  | { readonly node?: false; readonly handle: (req: Request, res: Response, fail: Fail) => unknown }
);

export interface Route {
  /** Paths under `server.path_prefix`; with `root`, paths from `/` (the registry's own). */
  readonly paths: readonly string[];
  readonly root?: boolean;
  /** What each method does; HEAD is answered only where it is listed. */
  readonly methods: Readonly<Partial<Record<Method, Endpoint>>>;
  /**
   * A method not listed gets 405 with `Allow` (the listed methods), written in this style;
   * absent, it gets the 404 of an unknown path.
   */
  readonly refuse?: ErrorStyle;
}

/** GET, and HEAD by the same handler (node sends the headers without the body). */
export function getAndHead(
  handle: (req: Request, res: Response) => unknown,
  errors: ErrorStyle = 'docker',
): Route['methods'] {
  const endpoint: Endpoint = { errors, handle };
  return { GET: endpoint, HEAD: endpoint };
}

/** One full path's routes: what each method does, and the reply to any other method. */
export interface PathEntry {
  readonly methods: ReadonlyMap<string, Endpoint>;
  readonly refuse: ErrorStyle | undefined;
  /** The `Allow` header of a 405. */
  readonly allow: string;
}

/** The table by full path (`path_prefix` applied), for dispatch. Throws on a path declared twice. */
export function compileRoutes(routes: readonly Route[], prefix: string): ReadonlyMap<string, PathEntry> {
  const byPath = new Map<string, PathEntry>();
  for (const route of routes) {
    const methods = new Map(Object.entries(route.methods));
    const allow = [...methods.keys()].join(', ');
    for (const path of route.paths) {
      const full = route.root ? path : `${prefix}${path}`;
      if (byPath.has(full)) throw new Error(`route ${full} declared twice`);
      byPath.set(full, { methods, refuse: route.refuse, allow });
    }
  }
  return byPath;
}

/**
 * The entry for a request path (without the query), matched case-sensitively; one trailing
 * slash is ignored (`/ui/` is `/ui`), as Express' non-strict routing did.
 */
export function findRoute(byPath: ReadonlyMap<string, PathEntry>, path: string): PathEntry | undefined {
  return (
    byPath.get(path) ?? (path.length > 1 && path.endsWith('/') ? byPath.get(path.slice(0, -1)) : undefined)
  );
}

/** What dispatch needs besides the table: the Basic realm of a 401, and where a 5xx is logged. */
export interface DispatchDeps {
  readonly realm: () => string;
  /** Absent: a 5xx is written but not logged. */
  readonly logger?: Logger;
}

/** The dispatch deps of the main listener: the realm is `token.issuer`, read per request. */
export function mainDispatch(deps: { runtime: () => Runtime; logger: Logger }): DispatchDeps {
  return { realm: () => deps.runtime().config.token.issuer, logger: deps.logger };
}

/**
 * An Express app answering exactly the paths of `routes`: each request is looked up in the
 * table and run by its method's endpoint; a method the path does not answer gets the path's
 * 405, anything else the JSON 404. Express only supplies its request and response helpers.
 */
export function routedApp(routes: ReadonlyMap<string, PathEntry>, deps: DispatchDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  // Paths are matched case-sensitively, the prefix included (`/REGAUTH/metrics` is not
  // `/regauth/metrics`), so a proxy rule on the exact path cannot be sidestepped by case.
  app.use((req, res, next) => {
    const entry = findRoute(routes, req.path);
    const endpoint = entry?.methods.get(req.method);
    if (endpoint) return run(endpoint, req, res, deps);
    if (!entry?.refuse) return next();
    res.setHeader('Allow', entry.allow);
    sendError(res, entry.refuse, new MethodNotAllowedError(), deps.realm());
  });
  app.use((_req, res) => {
    res.status(404).json(NOT_FOUND);
  });
  // A safety net only: run() writes every error an endpoint throws, in the endpoint's style.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const mapped = sendError(res, 'docker', err, deps.realm());
    if (mapped.status >= 500) deps.logger?.error({ err }, 'request failed');
  });
  return app;
}

/** The body of the 404 of an unknown path. */
const NOT_FOUND = { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] };
const MISSING_HOST = { errors: [{ code: 'BAD_REQUEST', message: 'HTTP/1.1 request without a Host header' }] };
/**
 * The first of Host and Authorization (fields of one value, RFC 9110, which node keeps the first
 * line of, dropping the rest) that the request sends on more than one line; undefined when none
 * is. A scan of the raw lines, which node keeps anyway: `headersDistinct` would build an object
 * of arrays for every request on the token path.
 */
function repeatedField(rawHeaders: readonly string[]): 'Host' | 'Authorization' | undefined {
  let host = 0;
  let authorization = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++host > 1) return 'Host';
    if (name.length === 13 && name.toLowerCase() === 'authorization' && ++authorization > 1) {
      return 'Authorization';
    }
  }
  return undefined;
}

/**
 * A request target as the path (and query) it names: origin form (`/auth?q`) as it is; absolute
 * form (`http://host/auth?q`, which HTTP/1.1 servers must accept) as what follows its scheme and
 * authority, `/` when nothing does. The authority is not judged: regauth answers whatever host
 * a request names. Undefined for anything else (`*`, `x`, `http:/x`), and for a target holding a
 * fragment (`#`), which no request target may: read on, it put the fragment's text in the query.
 */
export function originForm(target: string): string | undefined {
  if (target.includes('#')) return undefined;
  if (target.startsWith('/')) return target;
  const prefix = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target)?.[0];
  if (prefix === undefined) return undefined;
  const rest = target.slice(prefix.length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/**
 * `listener` given every request's target in origin form ({@link originForm}); a target in
 * neither form gets the JSON 404 of an unknown path. Express reads paths with a parser that finds
 * none in some absolute URLs (`a://x`, `http://[::1/auth`): its router then skipped every handler
 * and wrote an HTML page.
 */
export function readableTargetsOnly(listener: RequestListener): RequestListener {
  return (req, res) => {
    // A request behind a refused one on a connection being closed: read and dropped, unanswered.
    if (onClosingConnection(req)) return void req.resume();
    // HTTP/1.1 requires Host (RFC 9112 §3.2); node's own refusal of it is an empty 400.
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 1 && req.headers.host === undefined) {
      closeAfterReply(req, res);
      res.setHeader('Cache-Control', 'no-store');
      return void sendJson(res, 400, MISSING_HOST);
    }
    // Which of two Authorization lines counted would depend on their order (an empty first line
    // made Basic credentials anonymous), and a proxy reading the last would see another user.
    const repeated = repeatedField(req.rawHeaders);
    if (repeated !== undefined) {
      closeAfterReply(req, res);
      res.setHeader('Cache-Control', 'no-store');
      const message = `more than one ${repeated} header`;
      return void sendJson(res, 400, { errors: [{ code: 'BAD_REQUEST', message }] });
    }
    // regauth upgrades no connection (WebSocket, h2c), and node's parser drops what follows an
    // upgrade request in the same read: a request pipelined behind it would never be answered,
    // and the connection would hang until the keep-alive deadline. The reply ends it instead.
    if (req.headers.upgrade !== undefined) closeAfterReply(req, res);
    const target = originForm(req.url ?? '');
    if (target === undefined) {
      res.setHeader('Cache-Control', 'no-store');
      return void sendJson(res, 404, NOT_FOUND);
    }
    req.url = target;
    listener(req, res);
  };
}

/**
 * Calls an endpoint. An error it throws or rejects with is written here, in the endpoint's
 * style (a 5xx also logged): the one place a route's error style is applied. The endpoint gets
 * the same writer as `fail`, for the errors it answers itself.
 */
export function run(
  endpoint: Endpoint,
  req: Request | NodeRequest,
  res: ServerResponse,
  deps: DispatchDeps,
): void {
  const fail: Fail = (err) => sendError(res, endpoint.errors, err, deps.realm()).status;
  const failed = (err: unknown) => {
    if (res.headersSent) {
      deps.logger?.error({ err }, 'request failed after its reply began');
      res.destroy();
      return;
    }
    if (fail(err) >= 500) deps.logger?.error({ err }, 'request failed');
  };
  try {
    // A node endpoint takes any request; an Express one is only reached through routedApp.
    const done = (endpoint.handle as (req: unknown, res: unknown, fail: Fail) => unknown)(req, res, fail);
    if (done instanceof Promise) done.catch(failed);
  } catch (err) {
    failed(err);
  }
}
