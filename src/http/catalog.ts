import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CatalogError } from '../catalog/errors.js';
import { listCatalog } from '../catalog/catalog.js';
import { isCancelled } from '../core/errors.js';
import { clientAddress } from '../request/client-ip.js';
import type { AppDeps } from './app.js';
import { cancelledOnClose } from './cancel.js';

/** The path the registry serves its catalog at; regauth answers it there (HAProxy routes it). */
export const CATALOG_PATH = '/v2/_catalog';

/**
 * `GET /v2/_catalog` when `catalog:` is set (docs/catalog.md): the registry's reply, headers
 * and errors, with only the repositories the caller may pull. The work is in src/catalog; this
 * writes the reply as the registry would (JSON with a trailing newline, `Link` to the next page,
 * the Bearer challenge on 401, `Retry-After` on 429 and 503).
 */
export function createCatalogHandler(
  deps: AppDeps,
): (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) => Promise<void> {
  const now = deps.now ?? Date.now;
  return async (req, res) => {
    const started = process.hrtime.bigint();
    const runtime = deps.runtime();
    const { config } = runtime;
    const requestId = randomUUID();
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Request-Id', requestId);
    const url = req.originalUrl ?? req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const { ip } = clientAddress(
      req.socket.remoteAddress,
      req.headers['x-forwarded-for'],
      config.server.trustedProxies,
    );
    const catalog = config.catalog;
    if (!catalog || !runtime.catalog) {
      sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
      return;
    }
    // An ext_authz run still waiting for a slot is dropped, a running one killed.
    const signal = cancelledOnClose(res, runtime);
    try {
      const page = await listCatalog(
        {
          catalog,
          registry: runtime.catalog,
          acl: config.acl,
          extAuthz: runtime.extAuthz,
          key: config.token.key,
          issuer: config.token.issuer,
          ipv6Prefix: config.lockout.ipv6_prefix,
        },
        {
          authorization: req.headers.authorization,
          query: q < 0 ? '' : url.slice(q + 1),
          ip,
          now: now(),
          ...(signal ? { signal } : {}),
        },
      );
      if (page.next) {
        // As the registry builds it: the request's path, the query keys sorted (last, n).
        const query = `last=${encodeQuery(page.next.last)}&n=${page.next.n}`;
        res.setHeader('Link', `<${path}?${query}>; rel="next"`);
      }
      sendJson(res, 200, { repositories: page.repositories });
      deps.logger.info(
        {
          requestId,
          ip,
          account: page.caller.account,
          full: page.full,
          repositories: page.repositories.length,
          visible: page.visible,
          total: page.total,
          status: 200,
          ms: elapsed(started),
        },
        'catalog',
      );
    } catch (err) {
      if (!(err instanceof CatalogError)) {
        deps.logger.error({ requestId, err }, 'catalog request failed');
        sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message: 'unknown error' }] });
        return;
      }
      if (err.status === 401) {
        const error = err.challengeError ? `,error=${quote(err.challengeError)}` : '';
        res.setHeader(
          'WWW-Authenticate',
          `Bearer realm=${quote(catalog.realm)},service=${quote(catalog.service)},scope="registry:catalog:*"${error}`,
        );
      }
      if (err.retryAfter !== undefined) res.setHeader('Retry-After', String(err.retryAfter));
      sendJson(res, err.status, {
        errors: [
          {
            code: err.errorCode,
            message: err.message,
            ...(err.detail !== undefined ? { detail: err.detail } : {}),
          },
        ],
      });
      const fields = { requestId, ip, status: err.status, code: err.errorCode, ms: elapsed(started) };
      // A client that hung up while its ext_authz run was under way: no outage of the backend's.
      if (isCancelled(err.cause))
        deps.logger.info({ ...fields, cancelled: true }, 'catalog request cancelled');
      else if (err.status >= 500) {
        deps.logger.warn(
          { ...fields, reason: err.cause instanceof Error ? err.cause.message : undefined },
          'catalog unavailable',
        );
      } else deps.logger.info(fields, 'catalog refused');
    }
  };
}

/** JSON as Go's encoder writes it: a trailing newline; `application/json` as the registry sends it. */
function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** Go's %q for the ASCII the challenge holds. */
function quote(value: string): string {
  return JSON.stringify(value);
}

/** Go's url.QueryEscape for a repository name (`/` as %2F). */
function encodeQuery(value: string): string {
  return encodeURIComponent(value);
}

function elapsed(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}
