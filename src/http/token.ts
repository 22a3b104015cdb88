import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { recordTokenRequest } from '../pipeline/audit.js';
import { withLockout, withLockoutNow } from '../guard/lockout.js';
import { BadRequestError, isCancelled } from '../core/errors.js';
import { withLoginQueue } from '../guard/login-queue.js';
import {
  checkService,
  issueToken,
  issueTokenNow,
  type RequestContext,
  type TokenResult,
} from '../pipeline/pipeline.js';
import { clientAddress, normalizeIp } from '../request/client-ip.js';
import { parseTokenRequest, type TokenRequest } from '../request/token-request.js';
import type { Runtime } from '../pipeline/runtime.js';
import type { AppDeps } from './app.js';
import { cancelledOnClose } from './cancel.js';
import type { Fail, NodeRequest } from './dispatch.js';

/**
 * Issues a token behind the request guards, in their order: the bounded login queue (a password
 * still to be checked waits there, or is turned away at once; a cached login, an anonymous request
 * or a refresh grant does not), then the lockout. The token endpoint and the registry page
 * (ui.ts) both issue through it. Whether the credential cache holds the login costs a keyed hash
 * of the password: a yes is remembered for the lockout, a no is asked again after the queue (a
 * success may have landed meanwhile).
 *
 * The credential cache answers a password login only for a client that logged in to the account
 * here before (Lockout.knownClient); anyone else's password is checked in full
 * (Credentials.uncached), so it meets what a wrong one meets: refused before any check (the
 * queue full, the store or a backend down), a right password would otherwise get its token while
 * every wrong one got an uncounted refusal.
 *
 * A service regauth does not serve throws its BadRequestError at once, before any guard.
 */
export function issueGuarded(
  deps: Pick<AppDeps, 'loginQueue' | 'lockout' | 'metrics'>,
  runtime: Runtime,
  parsed: TokenRequest,
  ctx: RequestContext,
): Promise<TokenResult> {
  const { ip } = ctx;
  const { lockout, loginQueue: queue } = deps;
  // A malformed request changes nothing: refused before the login queue, the lockout and the
  // credential cache's standing see it (a locked pair's request for it is 400, not 429).
  checkService(runtime, parsed);
  // A password someone may guess (not a token a backend claims), from a client that has not shown
  // here that it holds the account's password (Lockout.knownClient): no cache answers it.
  const guessable = lockout !== undefined && guessed(runtime, parsed);
  const unknown = guessable && !lockout.knownClient(parsed.credentials.account, ip);
  const request = unknown ? uncachedRequest(parsed) : parsed;
  const { credentials } = request;
  // The cached path: a login answered at once (a credential cache hit, decided by the ACL alone)
  // needs no login-queue place, and the lockout lets it through at once or not at all; the same
  // answer as below, without a promise per stage (docs/performance.md "The cached path").
  // The attempt written out (not `{ ...credentials, ip }`, which V8 gives a hidden class of its own
  // each time: docs/performance.md "Hidden classes on the cached path").
  const attempt = { account: credentials.account, password: credentials.password, ip };
  const now = withLockoutNow(lockout, attempt, () => issueTokenNow(runtime, request, ctx));
  if (now !== undefined) return now;
  let held = false;
  const cached = () => held || (held = runtime.cached(credentials));
  const queued = () => runtime.queued(request, cached);
  // A known client sending a password the cache does not answer (a guess, a typo, a new one):
  // its standing ends now, before any answer, so that the cache never answers the right password
  // from its address while wrong ones are refused before a check (Lockout.endStanding).
  if (guessable && !unknown && !cached()) {
    lockout.endStanding(credentials.account, ip);
  }
  // With ext_auth the queue is the command's one bound per client: a request admitted with a
  // place runs it in that place; one let through without (a cache answered it when asked) takes
  // a place should the chain run the command after all.
  const placed = (admitted: boolean): RequestContext =>
    queue && runtime.config.ext_auth
      ? { ...ctx, enterQueue: admitted ? IN_PLACE : (quiet?: boolean) => queue.enter(ip, quiet) }
      : ctx;
  return withLoginQueue(queue, { ip, queued }, (admitted) =>
    withLockout(
      lockout,
      { ...credentials, ip, cached, unguessable: () => runtime.claimed(credentials) },
      (heldBack) => issueToken(runtime, request, { ...placed(admitted), ...(heldBack ? { heldBack } : {}) }),
      () => deps.metrics?.lockouts.inc(),
    ),
  );
}

/**
 * A password login whose password may be a guess: not a token a backend claims (a CI token of a
 * jwt_auth issuer is no guess: its signature is its proof, cached or not).
 */
function guessed(runtime: Runtime, request: TokenRequest): boolean {
  const { credentials } = request;
  return request.grant === 'password' && credentials.password !== undefined && !runtime.claimed(credentials);
}

/** The request with credentials no credential cache answers (Credentials.uncached). */
function uncachedRequest(request: TokenRequest): TokenRequest {
  return { ...request, credentials: { ...request.credentials, uncached: true } };
}

/** RequestContext.enterQueue of a request that holds its place already: nothing to take or give back. */
const IN_PLACE = (): (() => void) => NOTHING;
const NOTHING = (): void => undefined;

/**
 * The token endpoint (`/auth`, `/auth/token`) on node's own request and response API, so the
 * hot path (every `docker pull` asks for a token) skips Express' router and `res.json`; the
 * route table (routes.ts) declares its paths, methods and error styles, and hands it `fail`,
 * which writes an error in the style of the method's route.
 * parse → authenticate → authorize → sign (src/pipeline/pipeline.ts) → respond, then the audit line.
 */
export function createTokenHandler(deps: AppDeps): (
  req: NodeRequest,
  res: ServerResponse,
  method: 'GET' | 'POST',
  fail: Fail,
  /**
   * A POST's reading: the peer's address and the time (`process.hrtime.bigint()`) as it began (a
   * client gone meanwhile has no address), and why the body was refused, if it was.
   */
  read?: {
    readonly peer: string | undefined;
    readonly started: bigint;
    readonly refused?: { readonly error: unknown };
  },
) => Promise<void> {
  const now = deps.now ?? Date.now;
  return async (req, res, method, fail, read) => {
    const started = read ? read.started : process.hrtime.bigint();
    const runtime = deps.runtime();
    const requestId = randomUUID();
    // Until X-Forwarded-For is read (it may be refused): the socket peer, as the proxy it is.
    let ip: string | null = null;
    const peer = read ? read.peer : req.socket.remoteAddress;
    let via: string | null = peer === undefined ? null : normalizeIp(peer);
    const signal = cancelledOnClose(res, runtime);
    let request: TokenRequest | undefined;
    let result: TokenResult | undefined;
    let error: unknown;
    let status = 200;
    let cancelled = false;
    try {
      ({ ip, via } = clientAddress(
        peer,
        req.headers['x-forwarded-for'],
        runtime.config.server.trustedProxies,
      ));
      if (read?.refused) throw read.refused.error;
      if (method === 'POST' && !isForm(req.headers['content-type'])) {
        throw new BadRequestError('POST body must be application/x-www-form-urlencoded');
      }
      const parsed = parseTokenRequest({
        method,
        query: queryOf(req.originalUrl ?? req.url ?? ''),
        authorization: req.headers.authorization,
        body: typeof req.body === 'string' ? req.body : '',
      });
      request = parsed;
      result = await issueGuarded(deps, runtime, parsed, {
        ip,
        now: Math.floor(now() / 1000),
        ...(signal ? { signal } : {}),
      });
      const response = tokenResponse(result, method, requestId);
      res.writeHead(200, response.headers);
      res.end(response.body);
    } catch (err) {
      error = err;
      for (let i = 0; i < NO_STORE.length; i += 2) res.setHeader(NO_STORE[i]!, NO_STORE[i + 1]!);
      res.setHeader('X-Request-Id', requestId);
      status = fail(err);
      // A run cancelled because the client hung up: no outage. (A denial, a lock or a backend's own
      // failure keeps its outcome, whenever the client left.)
      cancelled = isCancelled(err);
    }
    recordTokenRequest(deps.logger, deps.metrics, {
      requestId,
      method,
      ip,
      via,
      ...(request ? { request } : {}),
      ...(result ? { result } : {}),
      ...(error !== undefined ? { error } : {}),
      status,
      ms: Number(process.hrtime.bigint() - started) / 1e6,
      ...(cancelled ? { cancelled } : {}),
    });
    if (deps.recent && result && request) {
      for (const d of result.decisions) {
        deps.recent.record({
          account: result.account,
          labels: result.labels,
          ip,
          service: request.service,
          scope: d.scope,
          granted: d.decision.granted,
          byExt: d.decision.authorizer === 'ext_authz',
        });
      }
    }
  };
}

/**
 * The 200 reply to a token request: its JSON body, and every header as one flat list for a
 * single `writeHead` (node's fast path, no per-header bookkeeping).
 */
export function tokenResponse(
  result: TokenResult,
  method: 'GET' | 'POST',
  requestId: string,
): { body: Buffer; headers: string[] } {
  // The token is a JWS in compact form (base64url and dots), the time an ISO 8601 string and the
  // lifetime an integer: none can hold a character JSON escapes, so they are written as they are
  // (JSON.stringify scanned the token twice for escapes: about 5 µs, 3 % of a cached token's
  // CPU). The scope and the refresh token go through JSON.stringify.
  const { token } = result;
  let tail = `","expires_in":${result.expiresIn},"issued_at":"${result.issuedAt}"`;
  if (method === 'POST') tail += `,"scope":${JSON.stringify(result.scope)}`;
  if (result.refreshToken) tail += `,"refresh_token":${JSON.stringify(result.refreshToken.reveal())}`;
  tail += '}';
  // Written into the body's bytes piece by piece: given a string, node measured its byte length
  // for Content-Length, then joined it to the header text and encoded that, and a string joined
  // here first is copied flat before it is encoded (the token twice, about 3 KB, per request).
  // The token is ASCII, one byte per character; the rest is encoded as UTF-8.
  const tailBytes = Buffer.byteLength(tail);
  const body = Buffer.allocUnsafe(TOKEN_KEY.length + ACCESS_TOKEN_KEY.length + 2 * token.length + tailBytes);
  let at = body.write(TOKEN_KEY, 0, 'latin1');
  at += body.write(token, at, 'latin1');
  at += body.write(ACCESS_TOKEN_KEY, at, 'latin1');
  at += body.write(token, at, 'latin1');
  // Every byte written (the buffer is not zeroed first): anything else is a bug, never a reply.
  if (at + body.write(tail, at, 'utf8') !== body.length) throw new Error('token reply miscounted');
  return {
    body,
    headers: [
      'Content-Type',
      'application/json; charset=utf-8',
      'Content-Length',
      String(body.length),
      ...NO_STORE,
      'X-Request-Id',
      requestId,
    ],
  };
}

const TOKEN_KEY = '{"token":"';
const ACCESS_TOKEN_KEY = '","access_token":"';

/** Token replies, good or bad, are never cached (RFC 6749 §5.1). */
const NO_STORE = ['Cache-Control', 'no-store', 'Pragma', 'no-cache'] as const;

function isForm(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

function queryOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}
