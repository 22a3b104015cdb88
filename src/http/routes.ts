import { isUtf8 } from 'node:buffer';
import express, { type Request, type Response } from 'express';
import { BadRequestError } from '../core/errors.js';
import { readinessProbe } from '../pipeline/health.js';
import { MemoryStore } from '../store/memory.js';
import { jwks } from '../token/sign.js';
import type { AppDeps } from './app.js';
import { CATALOG_PATH, createCatalogHandler } from './catalog.js';
import { getAndHead, type Fail, type Route } from './dispatch.js';
import { continueIfAwaited } from './errors.js';
import { closeAfterReply } from './limits.js';
import { metricsHandler } from './metrics.js';
import { oidcPages } from './oidc.js';
import { createTokenHandler } from './token.js';
import { SIGN_OUT_BODY_LIMIT, uiPages } from './ui.js';

/** The body limit: a token request is a few hundred bytes; 64 KiB is generous. */
const BODY_LIMIT = 64 * 1024;

/**
 * Every path regauth answers on its main listener (docs/http-api.md "Endpoints"), declared once:
 * Express (app.ts) and the GET fast path (server.ts) both dispatch from this table, and nothing
 * else in src/http registers a route.
 */
export function routeTable(deps: AppDeps, prefix: string): Route[] {
  const token = createTokenHandler(deps);
  const readForm = bodyReader(BODY_LIMIT);
  // Without a store given (tests), this process's memory, as `store.type: memory` keeps it.
  const store = deps.store ?? new MemoryStore({ maxEntries: deps.runtime().config.lockout.max_entries });
  const oidc = oidcPages({ ...deps, now: deps.now ?? Date.now, prefix, store });
  const ui = uiPages({ ...deps, prefix, store });
  const readSignOut = bodyReader(SIGN_OUT_BODY_LIMIT);
  const probe = deps.readiness ?? readinessProbe(deps.logger);
  const catalog = createCatalogHandler(deps);
  const routes: Route[] = [
    {
      // HEAD is refused: it would authenticate and sign a token only to drop the body.
      paths: ['/auth', '/auth/token'],
      methods: {
        GET: { errors: 'docker', node: true, handle: (req, res, fail) => token(req, res, 'GET', fail) },
        POST: {
          errors: 'oauth2',
          handle: (req: Request, res: Response, fail: Fail) => {
            // Read now: once a client that hung up mid-body is gone, its socket has no address.
            // Timed from now too, as a GET is from its headers: a body sent slowly is the request's
            // time.
            const peer = req.socket.remoteAddress;
            const started = process.hrtime.bigint();
            return readForm(req, res).then(
              () => token(req, res, 'POST', fail, { peer, started }),
              // Refused while its body was read (too large, an unknown encoding, not UTF-8):
              // still a token request, answered, audited and counted as one.
              (error: unknown) => token(req, res, 'POST', fail, { peer, started, refused: { error } }),
            );
          },
        },
      },
      refuse: 'docker',
    },
    {
      paths: ['/.well-known/jwks.json'],
      methods: getAndHead((_req, res) => {
        res.setHeader('Cache-Control', 'public, max-age=300');
        res.json(jwks([deps.runtime().config.token.key]));
      }),
    },
    { paths: ['/oidc/login'], methods: getAndHead(oidc.login) },
    {
      // GET only: a HEAD would exchange the code and spend the login on an answer nobody reads.
      paths: ['/oidc/callback'],
      methods: { GET: { errors: 'docker', handle: oidc.callback } },
      refuse: 'docker',
    },
    { paths: ['/ui'], methods: getAndHead(ui.repositories) },
    { paths: ['/ui/repository'], methods: getAndHead(ui.repository) },
    { paths: ['/ui/tag'], methods: getAndHead(ui.tag) },
    {
      // A form post (CSRF token inside); SameSite=Lax keeps the session cookie off cross-site posts.
      paths: ['/ui/signout'],
      methods: {
        POST: {
          errors: 'docker',
          handle: (req: Request, res: Response) => readSignOut(req, res).then(() => ui.signOut(req, res)),
        },
      },
    },
    {
      paths: ['/healthz'],
      methods: getAndHead((_req, res) => {
        res.json({ status: 'ok' });
      }),
    },
    {
      // Public: ready or not, no reasons (they can name internal addresses); see readinessProbe.
      paths: ['/readyz'],
      methods: getAndHead(async (_req, res) => {
        const r = await probe.probe(deps.runtime());
        res.setHeader('Cache-Control', 'no-store');
        res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not ready' });
      }),
    },
    {
      // The registry's own path, not under path_prefix: HAProxy routes it here unchanged.
      paths: [CATALOG_PATH],
      root: true,
      methods: getAndHead((req, res) => catalog(req, res), 'registry'),
      refuse: 'registry',
    },
  ];
  if (deps.metrics && deps.serveMetrics !== false)
    routes.push({ paths: ['/metrics'], methods: getAndHead(metricsHandler(deps.metrics)) });
  return routes;
}

/** Reads a request body of at most `limit` bytes as text into `req.body`, whatever its type. */
function bodyReader(limit: number): (req: Request, res: Response) => Promise<void> {
  const read = express.text({
    type: () => true,
    limit,
    defaultCharset: 'utf-8',
    // Only UTF-8, checked byte for byte: decoded with U+FFFD for a bad byte, `p\xFF` and `p\xFE`
    // would be one password. Another charset's decoder reads bytes it has no character for as
    // U+FFFD, or drops them (UTF-16's odd last byte, UTF-7's stray `+`), with the same effect; a
    // form is UTF-8 anyway (WHATWG URL), and no registry client sends another.
    verify: (_req, _res, bytes, charset) => {
      if (charset.replace(/[-_]/g, '') !== 'utf8') {
        throw new BadRequestError(`the form must be UTF-8, not ${charset}`);
      }
      if (!isUtf8(bytes)) throw new BadRequestError('the form is not UTF-8');
    },
  });
  return (req, res) => {
    // A length declared over the limit is refused before a byte is read: body-parser reads (and
    // drops) the whole declared body before it answers, so a client that declared 100 MB made
    // regauth read it, or waited for request_timeout. The connection is not kept: the body still
    // on its way is not read.
    if (Number(req.headers['content-length']) > limit) return Promise.reject(tooLarge(req, res));
    // The body is read: a client waiting for `100 Continue` (Expect) may send it now.
    continueIfAwaited(req, res);
    return new Promise<void>((resolve, reject) => {
      // A body of no declared length (chunked) is refused as soon as what came passes the limit,
      // for the same reason: body-parser would drain it until it ended, or until request_timeout.
      // Counted as it comes, beside body-parser's own reading (both listen from the next tick).
      let received = 0;
      const count = (chunk: Buffer): void => {
        received += chunk.length;
        if (received > limit) {
          req.off('data', count);
          reject(tooLarge(req, res));
        }
      };
      let settled = false;
      read(req, res, (err?: unknown) => {
        settled = true;
        req.off('data', count);
        if (err) reject(err);
        else resolve();
      });
      // Not when body-parser refused the request from its headers at once (an unknown charset or
      // Content-Encoding: 415, answered now): what node then drains of the body is not counted, or
      // passing the limit would mark a connection whose reply is already out as closing, and every
      // later request on it would go unanswered (limits.ts onClosingConnection).
      if (!settled) req.on('data', count);
    });
  };
}

/** The 413 of a body over the limit; the connection is closed once it is written. */
function tooLarge(req: Request, res: Response): Error {
  closeAfterReply(req, res);
  return Object.assign(new Error('request body too large'), { status: 413 });
}
