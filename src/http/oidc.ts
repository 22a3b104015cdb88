import type { Request, Response } from 'express';
import { RegauthError } from '../errors.js';
import type { Logger } from '../log.js';
import { LOGIN_COOKIE, LOGIN_COOKIE_HOST, LOGIN_COOKIE_MAX_AGE, UsedLogins } from '../oidc/login.js';
import { renderErrorPage, renderLoginPage } from '../oidc/page.js';
import type { Runtime } from '../runtime.js';
import { mapError } from './errors.js';

/**
 * `/oidc/login` and `/oidc/callback` (docs/backends/oidc.md "The login"): the browser login of
 * `oidc_auth`. The flow itself is in src/oidc; this only moves cookies, redirects and pages.
 */
export function oidcPages(deps: {
  runtime: () => Runtime;
  logger: Logger;
  now: () => number;
  prefix: string;
}): { login: Page; callback: Page } {
  const loginPath = `${deps.prefix}/oidc/login`;
  // Survives config reloads: a cookie spent before a reload stays spent.
  const used = new UsedLogins();

  const loginPage: Page = async (_req, res) => {
    const login = deps.runtime().oidc;
    if (!login) return notConfigured(res);
    try {
      const { authorizationUrl, cookie } = await login.start(seconds(deps.now()));
      res.setHeader('Set-Cookie', setCookie(cookie, LOGIN_COOKIE_MAX_AGE, secure(deps.runtime())));
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(303, authorizationUrl.href);
    } catch (err) {
      fail(res, err, 'oidc login failed');
    }
  };

  const callbackPage: Page = async (req, res) => {
    const runtime = deps.runtime();
    const login = runtime.oidc;
    if (!login) return notConfigured(res);
    // The cookie is single-use: cleared whatever happens.
    const isSecure = secure(runtime);
    res.setHeader('Set-Cookie', setCookie('', 0, isSecure));
    try {
      const cookie = cookieOf(req, isSecure ? LOGIN_COOKIE_HOST : LOGIN_COOKIE);
      const result = await login.finish(queryOf(req), cookie, seconds(deps.now()), used);
      deps.logger.info({ account: result.account, expiresAt: result.expiresAt }, 'app password issued');
      sendHtml(res, 200, renderLoginPage(result));
    } catch (err) {
      fail(res, err, 'oidc callback failed');
    }
  };

  function setCookie(value: string, maxAge: number, isSecure: boolean): string {
    // SameSite=Lax: the provider's redirect back is a top-level GET, which Lax lets through.
    // Over https a __Host- cookie (Secure, Path=/, no Domain): a sibling host or port cannot plant
    // one that the browser would send first. Over http (loopback only) the prefix is not allowed.
    return isSecure
      ? `${LOGIN_COOKIE_HOST}=${value}; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Lax; Secure`
      : `${LOGIN_COOKIE}=${value}; Max-Age=${maxAge}; Path=${deps.prefix}/oidc; HttpOnly; SameSite=Lax`;
  }

  function fail(res: Response, err: unknown, what: string): void {
    const mapped = mapError(err);
    const level = mapped.status >= 500 ? 'error' : 'info';
    deps.logger[level](
      {
        status: mapped.status,
        reason: err instanceof RegauthError ? err.message : undefined,
        err: err instanceof RegauthError ? undefined : err,
      },
      what,
    );
    if (mapped.retryAfter) res.setHeader('Retry-After', String(mapped.retryAfter));
    sendHtml(res, mapped.status, renderErrorPage(mapped.status, mapped.message, loginPath));
  }

  return { login: loginPage, callback: callbackPage };
}

/** A page's handler; its paths are in the route table (routes.ts). */
type Page = (req: Request, res: Response) => Promise<void>;

function notConfigured(res: Response): void {
  res.status(404).json({ errors: [{ code: 'NOT_FOUND', message: 'oidc_auth is not configured' }] });
}

function sendHtml(res: Response, status: number, html: string): void {
  res.status(status);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'",
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.send(html);
}

/**
 * Whether the browser reaches regauth over https: the scheme of redirect_url, which the operator
 * registered at the provider (the request's own scheme is http behind a TLS-terminating proxy).
 * http is accepted only on loopback (src/config/oidc.ts).
 */
function secure(runtime: Runtime): boolean {
  return runtime.config.oidcAuth?.redirectUrl.startsWith('https:') ?? true;
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function queryOf(req: Request): string {
  const q = req.originalUrl.indexOf('?');
  return q < 0 ? '' : req.originalUrl.slice(q + 1);
}

/** One cookie's value from the Cookie header. */
function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
