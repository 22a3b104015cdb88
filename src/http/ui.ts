import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { RegistryBrowser } from '../catalog/browse.js';
import { listCatalogFor } from '../catalog/catalog.js';
import { CatalogError } from '../catalog/errors.js';
import {
  renderRepositories,
  renderRepository,
  renderSignedOut,
  renderTag,
  renderUiError,
  type UiPaths,
} from '../catalog/page.js';
import { BadRequestError, isCancelled, RegauthError, UnauthorizedError } from '../core/errors.js';
import { LOGIN_COOKIE_MAX_AGE, type OidcLogin } from '../oidc/login.js';
import { SESSION_COOKIE, SESSION_COOKIE_HOST, safeReturnPath, type UiSession } from '../oidc/session.js';
import { recordTokenRequest } from '../pipeline/audit.js';
import { issueToken, type TokenResult } from '../pipeline/pipeline.js';
import { parseBasicAuth } from '../request/basic.js';
import { clientAddress } from '../request/client-ip.js';
import { isValidRepositoryName } from '../request/reference.js';
import { parseTokenRequest } from '../request/token-request.js';
import type { Runtime } from '../pipeline/runtime.js';
import type { Store } from '../store/types.js';
import type { AppDeps } from './app.js';
import { cancelledOnClose } from './cancel.js';
import { mapError } from './errors.js';
import { cookieOf, loginCookie, secure, sessionCookie, uiSessionLifetime } from './oidc.js';
import { issueGuarded } from './token.js';

/** A tag as the registry's grammar allows it. */
const TAG = /^[\w][\w.-]{0,127}$/;

/**
 * The pages allow nothing but their own inline style and their own sign-out form: no scripts,
 * frames or other sources, and forms post to this origin only.
 */
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The sign-out form's body: one CSRF token. */
export const SIGN_OUT_BODY_LIMIT = 4096;

/**
 * The registry page at `/ui/` (docs/catalog.md "The registry page"), when `catalog:` is set:
 * sign in (with `oidc_auth` set, through its login and then a session cookie; else with the
 * browser's Basic prompt), then the repositories one may pull, a repository's tags, a tag's
 * details and its `docker pull` line. Read-only GET pages (nothing a cross-site request could
 * change) and a sign-out form with a CSRF token; each request authenticated like a token
 * request (Basic: lockout included) and every registry read made with a token regauth issues
 * for that user.
 */
export function uiPages(deps: AppDeps & { prefix: string; store: Store }): {
  /** `/ui/`: the repositories one may pull. */
  repositories: Page;
  /** `/ui/repository?name=`: a repository's tags. */
  repository: Page;
  /** `/ui/tag?name=&tag=`: a tag's details. */
  tag: Page;
  /** POST `/ui/signout`: ends the `oidc_auth` session (its body is read by the route table). */
  signOut: Page;
} {
  const base = `${deps.prefix}/ui`;
  const paths: UiPaths = { base };
  const now = deps.now ?? Date.now;
  const browsers = new WeakMap<Runtime, RegistryBrowser>();
  // Sign-outs live in the store (`store:`): they survive config reloads, and with a shared store
  // a sign-out holds on every replica.
  const { store } = deps;
  const signedOut = {
    has: (session: UiSession, at: number): Promise<boolean> =>
      store.marked('ui-signed-out', session.sid, at * 1000),
    revoke: async (session: UiSession, at: number): Promise<void> => {
      await store.mark('ui-signed-out', session.sid, session.expiresAt * 1000, at * 1000);
    },
  };

  const handle =
    (render: (ctx: Ctx) => Promise<string>) =>
    async (req: Request, res: Response): Promise<void> => {
      const runtime = deps.runtime();
      const catalog = runtime.config.catalog;
      if (!catalog || !runtime.catalog) {
        res.status(404).json({ errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
        return;
      }
      const { ip, via } = clientAddress(
        req.socket.remoteAddress,
        req.headers['x-forwarded-for'],
        runtime.config.server.trustedProxies,
      );
      let browser = browsers.get(runtime);
      if (!browser) browsers.set(runtime, (browser = new RegistryBrowser(catalog)));
      const query = new URLSearchParams(queryOf(req));
      let account: string | undefined;
      // With oidc_auth, a browser that sends no Basic credentials signs in through its login.
      const login = req.headers.authorization === undefined ? runtime.oidc : undefined;
      let session: UiSession | undefined;
      if (login) {
        let opened: Awaited<ReturnType<typeof openSession>>;
        try {
          opened = await openSession(req, runtime, login);
        } catch (err) {
          // The store cannot tell whether the session was signed out: 503, never a guess.
          const status = fail(res, err);
          deps.logger.info({ ip, path: req.path.slice(deps.prefix.length), status }, 'registry page');
          return;
        }
        if (opened.session === undefined) {
          const status = await startLogin(req, res, runtime, login, opened.present);
          deps.logger.info({ ip, path: req.path.slice(deps.prefix.length), status }, 'registry page');
          return;
        }
        session = opened.session;
        account = session.account;
      }
      // ext_auth and ext_authz runs still queued for the page are dropped, running ones killed.
      const signal = cancelledOnClose(res, runtime);
      // The id of the view's audit line (a login with a password), sent as /auth sends its own.
      const requestId = randomUUID();
      res.setHeader('X-Request-Id', requestId);
      const ctx: Ctx = {
        runtime,
        browser,
        query,
        ip,
        ...(signal ? { signal } : {}),
        paths: session
          ? { base, signOut: { action: `${base}/signout`, csrf: login!.sessions.csrfToken(session) } }
          : paths,
        token: async (service, scope) => {
          const result = await tokenFor(
            runtime,
            req,
            { ip, via, requestId },
            service,
            scope,
            session,
            signal,
          );
          account = result.account;
          return result;
        },
      };
      let status = 200;
      try {
        send(res, 200, await render(ctx));
      } catch (err) {
        status = fail(res, err, session !== undefined ? { runtime, paths: ctx.paths } : undefined);
      }
      // The path under path_prefix.
      deps.logger.info(
        { ip, account, requestId, path: req.path.slice(deps.prefix.length), status },
        'registry page',
      );
    };

  /**
   * The session the request's cookie holds, unless absent, invalid, expired or signed out; and
   * `sealed`, the session as its cookie alone allows (a lowered lifetime may have ended it).
   */
  async function openSession(
    req: Request,
    runtime: Runtime,
    login: OidcLogin,
  ): Promise<{ session: UiSession | undefined; sealed: UiSession | undefined; present: boolean }> {
    const value = cookieOf(req, secure(runtime) ? SESSION_COOKIE_HOST : SESSION_COOKIE);
    const at = Math.floor(now() / 1000);
    const sealed = await login.sessions.open(value, at);
    // As long as the config now in force allows, not only as long as its cookie says.
    const session = sealed && at < sealed.issuedAt + uiSessionLifetime(runtime) ? sealed : undefined;
    return {
      session: session && !(await signedOut.has(session, at)) ? session : undefined,
      sealed,
      present: value !== undefined,
    };
  }

  /**
   * Sends the browser to the OIDC login, to come back to the page it asked for (a path under
   * the page only; anything else comes back to the list). Returns the status sent.
   */
  async function startLogin(
    req: Request,
    res: Response,
    runtime: Runtime,
    login: OidcLogin,
    clearSession: boolean,
  ): Promise<number> {
    const returnTo = safeReturnPath(req.originalUrl, base) ?? `${base}/`;
    const isSecure = secure(runtime);
    try {
      const { authorizationUrl, cookie } = await login.start(Math.floor(now() / 1000), returnTo);
      res.setHeader('Set-Cookie', [
        loginCookie(deps.prefix, cookie, LOGIN_COOKIE_MAX_AGE, isSecure),
        ...(clearSession ? [sessionCookie(deps.prefix, '', 0, isSecure)] : []),
      ]);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.redirect(303, authorizationUrl.href);
      return 303;
    } catch (err) {
      return fail(res, err);
    }
  }

  async function tokenFor(
    runtime: Runtime,
    req: Request,
    {
      ip,
      via,
      requestId,
    }: { readonly ip: string | null; readonly via: string | null; readonly requestId: string },
    service: string,
    scope: string | undefined,
    session: UiSession | undefined,
    signal: AbortSignal | undefined,
  ): Promise<TokenResult> {
    // Credentials the browser sent that cannot be read (a password it sent as Latin-1, a name
    // with a space, another scheme) get the 401 and its challenge, as wrong ones do: with a 400
    // the browser sent the same ones again, and its user was never asked for others.
    if (!session) {
      try {
        parseBasicAuth(req.headers.authorization);
      } catch (err) {
        if (err instanceof BadRequestError)
          throw new CatalogError(401, 'UNAUTHORIZED', `${err.message}; sign in again`);
        throw err;
      }
    }
    const q = new URLSearchParams({ service, ...(scope ? { scope } : {}) });
    const parsed = parseTokenRequest({
      method: 'GET',
      query: q.toString(),
      authorization: session ? undefined : req.headers.authorization,
      body: '',
    });
    // A session speaks for the account its OIDC login named: no password to check or guard.
    const ctx = { ip, now: Math.floor(now() / 1000), ...(signal ? { signal } : {}) };
    if (session) return issueToken(runtime, parsed, ctx, session);
    // No credentials: ask the browser for them.
    if (parsed.credentials.password === undefined) throw new UnauthorizedError('sign in to see the registry');
    // The same guards as the token endpoint: the bounded login queue, then the lockout. Audited
    // and counted as the endpoint's requests are: a page login is a token request for the
    // catalog, and a wrong password here must show where one on /auth does, with its reason
    // (docs/security.md "User enumeration").
    const started = performance.now();
    const record = (outcome: { result: TokenResult } | { error: unknown; status: number }) =>
      recordTokenRequest(deps.logger, deps.metrics, {
        requestId,
        method: 'GET',
        ip,
        via,
        request: parsed,
        status: 200,
        ...outcome,
        ms: performance.now() - started,
        ...('error' in outcome && isCancelled(outcome.error) ? { cancelled: true } : {}),
      });
    try {
      const result = await issueGuarded(deps, runtime, parsed, ctx);
      record({ result });
      return result;
    } catch (err) {
      record({ error: err, status: mapError(err).status });
      throw err;
    }
  }

  const repositoriesPage: Page = (req, res) => {
    // `/ui` → `/ui/`, its query kept: relative to the page, as a browser would resolve it. Only
    // where the page exists: without `catalog:` the 404 comes at once (handle).
    if (!req.path.endsWith('/') && deps.runtime().config.catalog) {
      const q = req.originalUrl.indexOf('?');
      res.redirect(301, `${paths.base}/${q < 0 ? '' : req.originalUrl.slice(q)}`);
      return;
    }
    return handle(async (ctx) => {
      const catalog = ctx.runtime.config.catalog!;
      // The catalog token is issued as for any client (authenticated, guarded, audited); the
      // listing then takes the caller it names as it is, with no token to read back.
      const { account, labels } = await ctx.token(catalog.service, undefined);
      const last = ctx.query.get('last') ?? '';
      const listed = await listCatalogFor(
        {
          catalog,
          registry: ctx.runtime.catalog!,
          acl: ctx.runtime.config.acl,
          extAuthz: ctx.runtime.extAuthz,
          key: ctx.runtime.config.token.key,
          issuer: ctx.runtime.config.token.issuer,
          ipv6Prefix: ctx.runtime.config.lockout.ipv6_prefix,
        },
        { account, labels },
        {
          query: new URLSearchParams({ n: String(catalog.pageSize), last }).toString(),
          ip: ctx.ip,
          now: now(),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        },
      );
      return renderRepositories(ctx.paths, account, listed.repositories, listed.next?.last);
    })(req, res);
  };

  const repositoryPage = handle(async (ctx) => {
    const name = repositoryParam(ctx.query);
    const token = await pullToken(ctx, name);
    return renderRepository(ctx.paths, name, await ctx.browser.tags(token, name));
  });

  const tagPage = handle(async (ctx) => {
    const name = repositoryParam(ctx.query);
    const tag = ctx.query.get('tag') ?? '';
    if (!TAG.test(tag)) throw new CatalogError(400, 'TAG_INVALID', 'invalid tag');
    const token = await pullToken(ctx, name);
    const details = await ctx.browser.describe(token, name, tag);
    return renderTag(ctx.paths, name, tag, details, new URL(ctx.runtime.config.catalog!.realm).host);
  });

  // Sign-out: a POST with the session's CSRF token (SameSite=Lax already keeps the cookie off
  // cross-site POSTs; the token holds even where a browser sends it). The session is revoked
  // until it expires, so a copy of the cookie no longer opens the page.
  const signOutPage: Page = async (req, res) => {
    {
      const runtime = deps.runtime();
      const login = runtime.oidc;
      if (!runtime.config.catalog || !login) {
        const message = runtime.config.catalog ? 'oidc_auth is not configured' : 'no such endpoint';
        res.status(404).json({ errors: [{ code: 'NOT_FOUND', message }] });
        return;
      }
      const { ip } = clientAddress(
        req.socket.remoteAddress,
        req.headers['x-forwarded-for'],
        runtime.config.server.trustedProxies,
      );
      const body = typeof req.body === 'string' ? req.body : '';
      let status = 200;
      let session: UiSession | undefined;
      try {
        let present: boolean;
        let sealed: UiSession | undefined;
        ({ session, sealed, present } = await openSession(req, runtime, login));
        if (session === undefined && sealed !== undefined) {
          // Ended by a lowered lifetime, not by its cookie: recorded as signed out all the same,
          // or raising the lifetime again would let a copy of the cookie open the page. (No form
          // check: signing out a session that is over harms no one.)
          await signedOut.revoke(sealed, Math.floor(now() / 1000));
        } else if (session !== undefined) {
          if (!login.sessions.checkCsrf(session, new URLSearchParams(body).get('csrf'))) {
            throw new CatalogError(
              403,
              'DENIED',
              'the sign-out form has expired; reload the page and sign out again',
            );
          }
          await signedOut.revoke(session, Math.floor(now() / 1000));
        }
        // Only a cookie that came with the request is cleared: a cross-site form comes without
        // one (SameSite=Lax), and a Set-Cookie in its answer would sign the browser out.
        if (present) res.setHeader('Set-Cookie', sessionCookie(deps.prefix, '', 0, secure(runtime)));
        send(res, 200, renderSignedOut(paths));
      } catch (err) {
        status = fail(res, err);
      }
      deps.logger.info(
        { ip, account: session?.account, path: req.path.slice(deps.prefix.length), status },
        'registry page sign-out',
      );
    }
  };

  /** A token to pull `name`, or 404 when the user may not: the same answer as for no repository. */
  async function pullToken(ctx: Ctx, name: string): Promise<string> {
    const catalog = ctx.runtime.config.catalog!;
    const result = await ctx.token(catalog.registryService, `repository:${name}:pull`);
    const granted = result.access.some((a) => a.name === name && a.actions.includes('pull'));
    if (!granted) throw new CatalogError(404, 'NAME_UNKNOWN', 'no such repository, or you may not pull it');
    return result.token;
  }

  /**
   * Writes the error page; returns its status. `session`: the request came with a session (of
   * that runtime; its paths hold the sign-out form), which a 401 ends: the cookie is cleared and
   * the page offers to sign in again.
   */
  function fail(res: Response, err: unknown, session?: { runtime: Runtime; paths: UiPaths }): number {
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
      // A run its client's hang-up cancelled is no failure (its audit line says `cancelled`).
      if (status >= 500 && !isCancelled(err))
        deps.logger.error({ err: err instanceof RegauthError ? err.message : err }, 'ui failed');
    }
    let shown = session?.paths ?? paths;
    if (status === 401 && session !== undefined) {
      res.setHeader('Set-Cookie', sessionCookie(deps.prefix, '', 0, secure(session.runtime)));
      shown = paths;
      message = 'your session is no longer valid; sign in again';
    } else if (status === 401) {
      res.setHeader('WWW-Authenticate', 'Basic realm="registry", charset="UTF-8"');
    }
    send(res, status, renderUiError(shown, status, message));
    return status;
  }

  return { repositories: repositoriesPage, repository: repositoryPage, tag: tagPage, signOut: signOutPage };
}

/** A page's handler; its path is in the route table (routes.ts). */
type Page = (req: Request, res: Response) => Promise<void> | void;

interface Ctx {
  readonly runtime: Runtime;
  readonly browser: RegistryBrowser;
  readonly query: URLSearchParams;
  readonly ip: string | null;
  /** Aborted when the page is sent or the browser is gone (only when a backend can be cancelled). */
  readonly signal?: AbortSignal;
  /** The page's paths, with the sign-out form's when signed in with a session. */
  readonly paths: UiPaths;
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
