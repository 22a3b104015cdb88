import type { Request, Response } from 'express';
import { RegistryBrowser } from '../catalog/browse.js';
import { listCatalog } from '../catalog/catalog.js';
import { CatalogError } from '../catalog/errors.js';
import {
  renderRepositories,
  renderRepository,
  renderTag,
  renderUiError,
  type UiPaths,
} from '../catalog/page.js';
import { RegauthError, UnauthorizedError } from '../errors.js';
import type { TokenResult } from '../pipeline.js';
import { clientAddress } from '../request/client-ip.js';
import { isValidRepositoryName } from '../request/reference.js';
import { parseTokenRequest } from '../request/token-request.js';
import type { Runtime } from '../runtime.js';
import type { AppDeps } from './app.js';
import { mapError } from './errors.js';
import { issueGuarded } from './token.js';

/** A tag as the registry's grammar allows it. */
const TAG = /^[\w][\w.-]{0,127}$/;

/** The pages allow nothing but their own inline style: no scripts, forms, frames or other sources. */
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The registry page at `/ui/` (docs/catalog.md "The registry page"), when `catalog:` is set:
 * sign in with the browser's Basic prompt, then the repositories one may pull, a repository's
 * tags, a tag's details and its `docker pull` line. Read-only GET pages (nothing a cross-site
 * request could change), each request authenticated like a token request (lockout included)
 * and every registry read made with a token regauth issues for that user.
 */
export function uiPages(deps: AppDeps & { prefix: string }): {
  /** `/ui/`: the repositories one may pull. */
  repositories: Page;
  /** `/ui/repository?name=`: a repository's tags. */
  repository: Page;
  /** `/ui/tag?name=&tag=`: a tag's details. */
  tag: Page;
} {
  const paths: UiPaths = { base: `${deps.prefix}/ui` };
  const now = deps.now ?? Date.now;
  const browsers = new WeakMap<Runtime, RegistryBrowser>();

  const handle =
    (render: (ctx: Ctx) => Promise<string>) =>
    async (req: Request, res: Response): Promise<void> => {
      const runtime = deps.runtime();
      const catalog = runtime.config.catalog;
      if (!catalog || !runtime.catalog) {
        res.status(404).json({ errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
        return;
      }
      const { ip } = clientAddress(
        req.socket.remoteAddress,
        req.headers['x-forwarded-for'],
        runtime.config.server.trustedProxies,
      );
      let browser = browsers.get(runtime);
      if (!browser) browsers.set(runtime, (browser = new RegistryBrowser(catalog)));
      const query = new URLSearchParams(queryOf(req));
      let account: string | undefined;
      const ctx: Ctx = {
        runtime,
        browser,
        query,
        ip,
        token: async (service, scope) => {
          const result = await tokenFor(runtime, req, ip, service, scope);
          account = result.account;
          return result;
        },
      };
      let status = 200;
      try {
        send(res, 200, await render(ctx));
      } catch (err) {
        status = fail(res, err);
      }
      // The path under path_prefix.
      deps.logger.info({ ip, account, path: req.path.slice(deps.prefix.length), status }, 'registry page');
    };

  async function tokenFor(
    runtime: Runtime,
    req: Request,
    ip: string | null,
    service: string,
    scope: string | undefined,
  ): Promise<TokenResult> {
    const q = new URLSearchParams({ service, ...(scope ? { scope } : {}) });
    const parsed = parseTokenRequest({
      method: 'GET',
      query: q.toString(),
      authorization: req.headers.authorization,
      body: '',
    });
    // No credentials: ask the browser for them.
    if (parsed.credentials.password === undefined) throw new UnauthorizedError('sign in to see the registry');
    // The same guards as the token endpoint: the bounded login queue, then the lockout.
    return issueGuarded(deps, runtime, parsed, { ip, now: Math.floor(now() / 1000) });
  }

  const repositoriesPage: Page = (req, res) => {
    // `/ui` → `/ui/`: relative to the page, as a browser would resolve it.
    if (!req.path.endsWith('/')) {
      res.redirect(301, `${paths.base}/`);
      return;
    }
    return handle(async (ctx) => {
      const catalog = ctx.runtime.config.catalog!;
      const { token, account } = await ctx.token(catalog.service, undefined);
      const last = ctx.query.get('last') ?? '';
      const listed = await listCatalog(
        {
          catalog,
          registry: ctx.runtime.catalog!,
          acl: ctx.runtime.config.acl,
          extAuthz: ctx.runtime.extAuthz,
          key: ctx.runtime.config.token.key,
          issuer: ctx.runtime.config.token.issuer,
        },
        {
          authorization: `Bearer ${token}`,
          query: new URLSearchParams({ n: String(catalog.pageSize), last }).toString(),
          ip: ctx.ip,
          now: now(),
        },
      );
      return renderRepositories(paths, account, listed.repositories, listed.next?.last);
    })(req, res);
  };

  const repositoryPage = handle(async (ctx) => {
    const name = repositoryParam(ctx.query);
    const token = await pullToken(ctx, name);
    return renderRepository(paths, name, await ctx.browser.tags(token, name));
  });

  const tagPage = handle(async (ctx) => {
    const name = repositoryParam(ctx.query);
    const tag = ctx.query.get('tag') ?? '';
    if (!TAG.test(tag)) throw new CatalogError(400, 'TAG_INVALID', 'invalid tag');
    const token = await pullToken(ctx, name);
    const details = await ctx.browser.describe(token, name, tag);
    return renderTag(paths, name, tag, details, new URL(ctx.runtime.config.catalog!.realm).host);
  });

  /** A token to pull `name`, or 404 when the user may not: the same answer as for no repository. */
  async function pullToken(ctx: Ctx, name: string): Promise<string> {
    const catalog = ctx.runtime.config.catalog!;
    const result = await ctx.token(catalog.registryService, `repository:${name}:pull`);
    const granted = result.access.some((a) => a.name === name && a.actions.includes('pull'));
    if (!granted) throw new CatalogError(404, 'NAME_UNKNOWN', 'no such repository, or you may not pull it');
    return result.token;
  }

  /** Writes the error page; returns its status. */
  function fail(res: Response, err: unknown): number {
    let status: number;
    let message: string;
    if (err instanceof CatalogError) {
      status = err.status;
      message = err.status === 503 ? 'the registry cannot be reached; retry later' : err.message;
      if (err.retryAfter !== undefined) res.setHeader('Retry-After', String(err.retryAfter));
    } else {
      const mapped = mapError(err);
      status = mapped.status;
      message = mapped.message;
      if (mapped.retryAfter) res.setHeader('Retry-After', String(mapped.retryAfter));
      if (status >= 500)
        deps.logger.error({ err: err instanceof RegauthError ? err.message : err }, 'ui failed');
    }
    if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="registry", charset="UTF-8"');
    send(res, status, renderUiError(paths, status, message));
    return status;
  }

  return { repositories: repositoriesPage, repository: repositoryPage, tag: tagPage };
}

/** A page's handler; its path is in the route table (routes.ts). */
type Page = (req: Request, res: Response) => Promise<void> | void;

interface Ctx {
  readonly runtime: Runtime;
  readonly browser: RegistryBrowser;
  readonly query: URLSearchParams;
  readonly ip: string | null;
  token(service: string, scope: string | undefined): Promise<TokenResult>;
}

function repositoryParam(query: URLSearchParams): string {
  const name = query.get('name') ?? '';
  if (!isValidRepositoryName(name)) throw new CatalogError(400, 'NAME_INVALID', 'invalid repository name');
  return name;
}

function send(res: Response, status: number, html: string): void {
  res.status(status);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.send(html);
}

function queryOf(req: Request): string {
  const q = req.originalUrl.indexOf('?');
  return q < 0 ? '' : req.originalUrl.slice(q + 1);
}
