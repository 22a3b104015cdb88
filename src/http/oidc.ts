import type { Request, Response } from 'express';
import { BadRequestError, RegauthError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import {
  FinishedLoginError,
  LOGIN_COOKIE,
  LOGIN_COOKIE_HOST,
  LOGIN_COOKIE_MAX_AGE,
  LoginRefusedError,
  type LoginClaims,
} from '../oidc/login.js';
import type { Store } from '../store/types.js';
import { renderErrorPage, renderLoginPage } from '../oidc/page.js';
import { SESSION_COOKIE, SESSION_COOKIE_HOST, safeReturnPath } from '../oidc/session.js';
import type { Runtime } from '../pipeline/runtime.js';
import { clientAddress } from '../request/client-ip.js';
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
  /** Where spent login cookies are remembered (`store:`): with a shared one, once across replicas. */
  store: Store;
}): { login: Page; callback: Page } {
  const loginPath = `${deps.prefix}/oidc/login`;
  // Survives config reloads: a cookie spent before a reload stays spent.
  const { store } = deps;
  // A login's kind is marked once its answer is sure, so that its callback asked again says
  // which it was; a claimed login without one (it failed after the claim, or the mark was lost)
  // says only that it was used.
  const used: LoginClaims = {
    claim: (state, exp, now) => store.mark('oidc-login', state, exp * 1000, now * 1000),
    done: async (state, exp, now, kind) => {
      await store.mark(`oidc-login-${kind}`, state, exp * 1000, now * 1000).catch(() => false);
    },
    used: async (state, now) => {
      if (!(await store.marked('oidc-login', state, now * 1000))) return false;
      if (await store.marked('oidc-login-page', state, now * 1000)) return 'page';
      return (await store.marked('oidc-login-app', state, now * 1000)) ? 'app' : 'used';
    },
  };

  const loginPage: Page = async (_req, res) => {
    const login = deps.runtime().oidc;
    if (!login) return notConfigured(res);
    try {
      const { authorizationUrl, cookie } = await login.start(seconds(deps.now()));
      res.setHeader(
        'Set-Cookie',
        loginCookie(deps.prefix, cookie, LOGIN_COOKIE_MAX_AGE, secure(deps.runtime())),
      );
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
    const cleared = loginCookie(deps.prefix, '', 0, isSecure);
    res.setHeader('Set-Cookie', cleared);
    // Who asked, in each line: a victim's report of a forwarded sign-in link is traced by it.
    // For the log only: an X-Forwarded-For it cannot read does not change the answer.
    const client = logged(() =>
      clientAddress(
        req.socket.remoteAddress,
        req.headers['x-forwarded-for'],
        runtime.config.server.trustedProxies,
      ),
    );
    try {
      const cookie = cookieOf(req, isSecure ? LOGIN_COOKIE_HOST : LOGIN_COOKIE);
      const now = seconds(deps.now());
      const result = await login.finish(queryOf(req), cookie, now, used);
      if ('flow' in result) {
        // Started by the registry page: its session cookie, then back to the page asked for
        // (checked again here: only a path under the page, never another origin).
        const base = `${deps.prefix}/ui`;
        const lifetime = uiSessionLifetime(runtime);
        const sealed = await login.sessions.seal(result.account, result.labels, now, lifetime);
        const session = sessionCookie(deps.prefix, sealed.cookie, lifetime, isSecure);
        // Browsers keep cookies of 4096 bytes (name, value and attributes; RFC 6265 §6.1): one
        // larger is dropped, and the page would send the browser to the login again and again.
        if (session.length > MAX_COOKIE_BYTES) {
          throw new BadRequestError(
            `this account's labels (oidc_auth.label_claims) make a session cookie of ${session.length} bytes, more than the ${MAX_COOKIE_BYTES} a browser keeps; ask your registry administrator to narrow label_claims`,
          );
        }
        await used.done?.(result.login.state, result.login.expiresAt, now, 'page');
        res.setHeader('Set-Cookie', [cleared, session]);
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Referrer-Policy', 'no-referrer');
        deps.logger.info(
          { account: result.account, expiresAt: sealed.session.expiresAt, client },
          'registry page session started',
        );
        res.redirect(303, safeReturnPath(result.returnTo, base) ?? `${base}/`);
        return;
      }
      deps.logger.info(
        { account: result.account, expiresAt: result.expiresAt, client },
        'app password issued',
      );
      sendHtml(res, 200, renderLoginPage(result));
    } catch (err) {
      // Signing in again starts where this login started: the registry page, or the login (a
      // finished login, asked again, has no cookie left; its used state says which).
      const cookie = cookieOf(req, secure(runtime) ? LOGIN_COOKIE_HOST : LOGIN_COOKIE);
      const byPage =
        err instanceof FinishedLoginError
          ? err.byPage
          : await login.startedByPage(cookie, seconds(deps.now()));
      const again = byPage ? `${deps.prefix}/ui/` : loginPath;
      fail(res, err, 'oidc callback failed', again, client);
    }
  };

  function fail(
    res: Response,
    err: unknown,
    what: string,
    again = loginPath,
    client?: { ip: string | null; via: string | null },
  ): void {
    const mapped = mapError(err);
    const refused = err instanceof LoginRefusedError ? err : undefined;
    const level = mapped.status >= 500 ? 'error' : refused?.misconfigured ? 'warn' : 'info';
    deps.logger[level](
      {
        ...(client ? { client } : {}),
        status: mapped.status,
        reason: err instanceof RegauthError ? err.message : undefined,
        // The provider's error code and status: a client secret it no longer takes fails every login.
        ...(refused ? { provider: refused.provider } : {}),
        err: err instanceof RegauthError ? undefined : err,
      },
      what,
    );
    if (mapped.retryAfter) res.setHeader('Retry-After', String(mapped.retryAfter));
    sendHtml(res, mapped.status, renderErrorPage(mapped.status, mapped.message, again));
  }

  return { login: loginPage, callback: callbackPage };
}

/** The client address for a log line, or undefined when the request's cannot be read. */
function logged(
  read: () => { ip: string | null; via: string | null },
): { ip: string | null; via: string | null } | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** A page's handler; its paths are in the route table (routes.ts). */
type Page = (req: Request, res: Response) => Promise<void>;

/** A session's length when `catalog:` is absent (the page is off then; a login it started still ends well). */
const DEFAULT_UI_SESSION = 3600;

/**
 * How long a registry page session lasts under the config now in force: `catalog.ui_session`,
 * never longer than `oidc_auth.app_password_expiration`. Read when a session is sealed, and
 * again whenever one is opened, so that a reload lowering either ends the older ones.
 */
export function uiSessionLifetime(runtime: Runtime): number {
  return Math.min(
    runtime.config.catalog?.uiSession ?? DEFAULT_UI_SESSION,
    runtime.config.oidc_auth?.appPasswordExpiration ?? DEFAULT_UI_SESSION,
  );
}

/** The Set-Cookie value of the login cookie (`value` '' and `maxAge` 0 clear it). */
export function loginCookie(prefix: string, value: string, maxAge: number, isSecure: boolean): string {
  return cookie(isSecure ? LOGIN_COOKIE_HOST : LOGIN_COOKIE, value, maxAge, isSecure, `${prefix}/oidc`);
}

/** The largest cookie every browser keeps (RFC 6265 §6.1), its name and attributes included. */
const MAX_COOKIE_BYTES = 4096;

/** The Set-Cookie value of the registry page's session cookie (`value` '' and `maxAge` 0 clear it). */
export function sessionCookie(prefix: string, value: string, maxAge: number, isSecure: boolean): string {
  return cookie(isSecure ? SESSION_COOKIE_HOST : SESSION_COOKIE, value, maxAge, isSecure, `${prefix}/ui`);
}

function cookie(name: string, value: string, maxAge: number, isSecure: boolean, path: string): string {
  // SameSite=Lax: the provider's redirect back is a top-level GET, which Lax lets through (and
  // the redirect from there to the page, which Strict would treat as cross-site).
  // Over https a __Host- cookie (Secure, Path=/, no Domain): a sibling host cannot plant one that
  // the browser would send first (a service on another port of this host can: cookies ignore
  // ports). Over http (loopback only) the prefix is not allowed.
  return isSecure
    ? `${name}=${value}; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Lax; Secure`
    : `${name}=${value}; Max-Age=${maxAge}; Path=${path}; HttpOnly; SameSite=Lax`;
}

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
  // frame-ancestors above for current browsers; X-Frame-Options for those without CSP.
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.send(html);
}

/**
 * Whether the browser reaches regauth over https: the scheme of redirect_url, which the operator
 * registered at the provider (the request's own scheme is http behind a TLS-terminating proxy).
 * http is accepted only on loopback (src/oidc/config.ts).
 */
export function secure(runtime: Runtime): boolean {
  const redirectUrl = runtime.config.oidc_auth?.redirectUrl;
  // Parsed, as the config's check and the browser read it: `HTTPS://` is https too.
  return redirectUrl === undefined || new URL(redirectUrl).protocol === 'https:';
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function queryOf(req: Request): string {
  const q = req.originalUrl.indexOf('?');
  return q < 0 ? '' : req.originalUrl.slice(q + 1);
}

/** One cookie's value from the Cookie header. */
export function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
