import { BadRequestError, InvalidGrantError, UnauthorizedError } from '../core/errors.js';
import { answerNow, authenticate, lookupAccount, type ChainResult } from '../authn/chain.js';
import type { AuthzDecision, AuthzRequest, Labels } from '../authz/types.js';
import type { Secret } from '../core/secret.js';
import { aclDecisions, authorizeScopes } from '../authz/chain.js';
import { MAX_REFRESH_TOKEN_LENGTH, type TokenRequest } from '../request/token-request.js';
import { formatScope, quote, type Scope } from '../request/scope.js';
import type { AccessEntry } from '../token/types.js';
import { foldAccountName, isAccountName, tokenShaped } from '../core/account-name.js';
import { clientKey } from '../core/ip.js';
import type { Runtime } from './runtime.js';

/** Who asks and from where, as the HTTP layer determined it. */
export interface RequestContext {
  /** The client address (after trusted-proxy resolution), or null. */
  readonly ip: string | null;
  /** Unix time in seconds. */
  readonly now: number;
  /** Aborted when the request no longer needs an answer: the work still queued for it is dropped. */
  readonly signal?: AbortSignal;
  /**
   * How authentication holds its login-queue place (src/guard/login-queue.ts) for work the queue
   * bounds per client (ext_auth's command; see Credentials.enterQueue): nothing to take when the
   * request was admitted with a place, before any password was checked; else it takes one then.
   * Absent without a queue bounding such work: backends bound it per client themselves. Met
   * inside the chain, a bound of their own would refuse a made-up name, which reaches the
   * command, and not a static user's wrong password, whose run is a decoy: the answers would
   * tell the names apart, whatever else (anonymous requests) keeps the command busy.
   */
  readonly enterQueue?: (quiet?: boolean) => () => void;
  /** Set where the lockout guards the login: see Credentials.heldBack. */
  readonly heldBack?: (stored: string) => Promise<number>;
}

/** The decision for one requested scope, for the audit log and `regauth check`. */
export interface ScopeDecision {
  readonly scope: Scope;
  readonly decision: AuthzDecision;
}

/** A token reply, before it is written in the protocol's shape. */
export interface TokenResult {
  readonly token: string;
  readonly expiresIn: number;
  readonly issuedAt: string;
  readonly account: string;
  readonly authenticatedBy: string;
  /** The account's labels as its backend gave them (what the ACL saw). */
  readonly labels: Labels;
  /** Granted access, one entry per resource with at least one action. */
  readonly access: readonly AccessEntry[];
  readonly decisions: readonly ScopeDecision[];
  /** `type:name:actions` of the granted entries, space-joined (OAuth2 `scope`). */
  readonly scope: string;
  /**
   * A new refresh token (offline access asked, refresh enabled), or for the refresh grant the one
   * presented: clients keep one for months, so it is never rotated on use.
   */
  readonly refreshToken?: Secret;
}

/** Who the request acts for, once authenticated by password or by refresh token. */
export interface Identity {
  readonly account: string;
  readonly labels: Labels;
  /** The authenticator that decided. */
  readonly by: string;
  readonly fingerprint?: string;
  /** When the credential presented expires (unix seconds), if it does. */
  readonly expiresAt?: number;
}

/**
 * A registry page session (docs/catalog.md "Signing in with oidc_auth"): the account and labels
 * an `oidc_auth` login produced, opened from its cookie by the HTTP layer.
 */
export interface SessionIdentity {
  readonly account: string;
  readonly labels: Labels;
  /** Unix seconds. */
  readonly issuedAt: number;
}

/**
 * The token endpoint's whole pipeline, free of HTTP: authenticate (password or refresh token)
 * → authorize → sign (→ refresh token when offline access is asked).
 * (Parsing happened in src/request; responding happens in src/http.)
 * With `session`, the registry page's session stands in for the credentials (see redeemSession).
 * Throws BadRequestError, UnauthorizedError, InvalidGrantError (refresh grant), BackendUnavailableError.
 */
export async function issueToken(
  runtime: Runtime,
  request: TokenRequest,
  ctx: RequestContext,
  session?: SessionIdentity,
): Promise<TokenResult> {
  const { config } = runtime;
  checkService(runtime, request);

  // Who the backends' work is for (their per-client bounds) and what cancels it.
  const work: BackendWork = {
    client: clientKey(ctx.ip, config.lockout.ipv6_prefix),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  };
  const authnWork = {
    ...work,
    ...(ctx.enterQueue ? { enterQueue: ctx.enterQueue } : {}),
    ...(ctx.heldBack ? { heldBack: ctx.heldBack } : {}),
  };
  const authn = await authenticateRequest(runtime, request, ctx.now, authnWork, session);
  const { decisions, access } = await authorizeRequest(runtime, request, authn, ctx.ip, work);
  const token = await signAccess(runtime, request, authn, access, ctx.now);
  const refreshToken =
    request.grant === 'refresh_token'
      ? request.refreshToken
      : await offerRefreshToken(runtime, request, authn, ctx.now);
  return tokenResult(runtime, authn, decisions, access, token, ctx.now, refreshToken);
}

/**
 * issueToken for a login answered at once (docs/performance.md "The cached path"): see
 * authenticateNow for which. Everything but the signature happens in this call, without a
 * promise per stage; the result is issueToken's. Undefined, with nothing done, for any other
 * request: issueToken answers it.
 */
export function issueTokenNow(
  runtime: Runtime,
  request: TokenRequest,
  ctx: RequestContext,
): Promise<TokenResult> | undefined {
  const authn = authenticateNow(runtime, request);
  if (authn === undefined) return undefined;
  const { decisions, access } = authorizeNow(runtime, request, authn, ctx.ip);
  return signAccess(runtime, request, authn, access, ctx.now).then((token) =>
    tokenResult(runtime, authn, decisions, access, token, ctx.now),
  );
}

/**
 * authenticateRequest for a request issueTokenNow can answer: a password login the chain
 * answers without asking anyone (its first backend's credential cache holds a success for
 * exactly these credentials, src/authn/chain.ts answerNow), for a service the endpoint serves,
 * whose scopes the ACL alone decides (no `ext_authz`) and that offers no refresh token.
 * Undefined, with nothing done, for any other request.
 */
export function authenticateNow(runtime: Runtime, request: TokenRequest): Identity | undefined {
  const { config } = runtime;
  if (
    request.grant !== 'password' ||
    runtime.extAuthz !== undefined ||
    (request.offline && runtime.refresh !== undefined) ||
    refusedService(config.token.services, request.service, config.catalog?.service) !== undefined
  ) {
    return undefined;
  }
  const answer = answerNow(runtime.authenticators, request.credentials);
  if (answer?.outcome !== 'authenticated') return undefined;
  return identityOf(answer, request);
}

/** Who the backends' work is for (their per-client bounds) and what cancels it. */
export interface BackendWork {
  /** The client as the lockout counts it (clientKey: an IPv6 client by its network). */
  readonly client: string;
  readonly enterQueue?: (quiet?: boolean) => () => void;
  readonly signal?: AbortSignal;
  readonly heldBack?: (stored: string) => Promise<number>;
}

/**
 * authenticate: by password (GET Basic, POST password grant), by refresh token, or by the
 * registry page's session. Throws UnauthorizedError or InvalidGrantError.
 */
export async function authenticateRequest(
  runtime: Runtime,
  request: TokenRequest,
  now: number,
  work: BackendWork,
  session?: SessionIdentity,
): Promise<Identity> {
  if (session !== undefined) return redeemSession(runtime, session);
  if (request.grant === 'refresh_token')
    return redeemRefreshToken(runtime, request.refreshToken, request.service, now);
  const result = await authenticate(
    runtime.authenticators,
    { ...request.credentials, ...work },
    runtime.verifier,
  );
  if (result.outcome === 'denied') {
    throw new UnauthorizedError(undefined, {
      authenticator: result.by,
      reason: result.reason,
      ...(result.account !== undefined ? { account: result.account } : {}),
      ...(result.heldFor !== undefined ? { heldFor: result.heldFor } : {}),
    });
  }
  return identityOf(result, request);
}

/**
 * The chain's success as the request's identity: the account as the backend stores it, else as
 * typed. Written out field by field: V8 (Node 20) gives an object made as `{ ...result, account }`
 * a hidden class of its own each time, and every later read of such an object missed V8's
 * property caches (docs/performance.md "Hidden classes on the cached path").
 */
function identityOf(
  result: Extract<ChainResult, { outcome: 'authenticated' }>,
  request: TokenRequest,
): Identity {
  return {
    account: result.account ?? request.credentials.account,
    labels: result.labels,
    by: result.by,
    fingerprint: result.fingerprint,
    expiresAt: result.expiresAt,
  };
}

/**
 * authorize each scope (acl, then ext_authz); a denied scope is not an error, the token just
 * carries less. A token for the filtered catalog's own service is decided by the ACL alone: the
 * catalog reads only its account and labels, and decides every repository itself (ext_authz
 * included, for the registry's service), so asking ext_authz about a service it does not serve
 * would only cost a run, or turn the catalog away when the program answers it with an error.
 */
export async function authorizeRequest(
  runtime: Runtime,
  request: TokenRequest,
  authn: Identity,
  ip: string | null,
  work: BackendWork,
): Promise<Authorized> {
  const requests = authzRequests(request, authn, ip);
  const extAuthz = extAuthzFor(runtime, request.service);
  return authorized(request, await authorizeScopes(runtime.config.acl, extAuthz, requests, work));
}

/**
 * Whether `ext_authz` is asked about scopes no ACL rule matches for `service`: when it is
 * configured, except for the filtered catalog's own service (see authorizeRequest). The tools
 * (check, test, replay, who-can) ask this too, to decide as the token endpoint does.
 */
export function asksExtAuthz(
  config: Pick<Runtime['config'], 'ext_authz' | 'catalog'>,
  service: string | undefined,
): boolean {
  return config.ext_authz !== undefined && (service === undefined || service !== config.catalog?.service);
}

/** The runtime's ext_authz when it is asked for `service` (asksExtAuthz), else undefined. */
export function extAuthzFor(runtime: Runtime, service: string | undefined): Runtime['extAuthz'] {
  return asksExtAuthz(runtime.config, service) ? runtime.extAuthz : undefined;
}

/** Each requested scope's decision, and the access granted (one entry per resource with any action). */
export interface Authorized {
  readonly decisions: ScopeDecision[];
  readonly access: AccessEntry[];
}

/** authorizeRequest without `ext_authz`: the ACL alone decides, at once. */
export function authorizeNow(
  runtime: Runtime,
  request: TokenRequest,
  authn: Identity,
  ip: string | null,
): Authorized {
  return authorized(request, aclDecisions(runtime.config.acl, authzRequests(request, authn, ip)));
}

function authzRequests(request: TokenRequest, authn: Identity, ip: string | null): AuthzRequest[] {
  return request.scopes.map((scope) => ({
    account: authn.account,
    type: scope.type,
    name: scope.name,
    service: request.service,
    ip,
    labels: authn.labels,
    actions: scope.actions,
  }));
}

function authorized(request: TokenRequest, scopeDecisions: readonly AuthzDecision[]): Authorized {
  const decisions: ScopeDecision[] = scopeDecisions.map((decision, i) => ({
    scope: request.scopes[i]!,
    decision,
  }));
  const access: AccessEntry[] = decisions
    .filter((d) => d.decision.granted.length > 0)
    .map((d) => ({ type: d.scope.type, name: d.scope.name, actions: d.decision.granted }));
  return { decisions, access };
}

/** sign: the access token for `access`, for `token.expiration` seconds from `now`. */
export function signAccess(
  runtime: Runtime,
  request: TokenRequest,
  authn: Identity,
  access: readonly AccessEntry[],
  now: number,
): Promise<string> {
  const { catalog } = runtime.config;
  return runtime.sign(
    // A catalog token carries the labels: the catalog decides with them as this endpoint would.
    {
      subject: authn.account,
      audience: request.service,
      access,
      ...(catalog !== undefined && request.service === catalog.service ? { labels: authn.labels } : {}),
    },
    now,
    runtime.config.token.expiration,
  );
}

/** The reply of the stages above, before the HTTP layer writes it in the protocol's shape. */
export function tokenResult(
  runtime: Runtime,
  authn: Identity,
  decisions: readonly ScopeDecision[],
  access: readonly AccessEntry[],
  token: string,
  now: number,
  refreshToken?: Secret,
): TokenResult {
  return {
    token,
    expiresIn: runtime.config.token.expiration,
    issuedAt: issuedAtText(now),
    account: authn.account,
    authenticatedBy: authn.by,
    labels: authn.labels,
    access,
    decisions,
    scope: access.map(formatScope).join(' '),
    ...(refreshToken ? { refreshToken } : {}),
  };
}

/** `now` (unix seconds) as ISO 8601 without milliseconds, made once per second. */
let issued = { now: Number.NaN, text: '' };
function issuedAtText(now: number): string {
  if (now !== issued.now)
    issued = { now, text: new Date(now * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') };
  return issued.text;
}

/**
 * The 400 of a request for a service regauth does not serve (refusedService); the filtered
 * catalog's service (docs/catalog.md) is accepted besides the registry's.
 */
export function checkService(runtime: Runtime, request: TokenRequest): void {
  const { config } = runtime;
  const refused = refusedService(config.token.services, request.service, config.catalog?.service);
  if (refused !== undefined) throw new BadRequestError(refused);
}

/**
 * Why the token endpoint refuses a requested service (400), or undefined when it serves it: with
 * `token.services` set, only a service it lists. `regauth check`, `test` and `who-can` decide with
 * this same function.
 */
export function refusedService(
  services: readonly string[],
  service: string,
  /** Also accepted: the filtered catalog's own service, when `catalog:` is set. */
  catalogService?: string,
): string | undefined {
  if (services.length === 0 || services.includes(service) || service === catalogService) return undefined;
  // A token sent as the service is not quoted (the reason goes to the audit line).
  return `unknown service ${tokenShaped(service) ? '(a token, not shown)' : quote(service)}`;
}

/**
 * The service `check` and `test` assume when none is given: the only one `token.services` lists,
 * `""` (none sent) when it lists none, undefined when it lists several (the caller must choose).
 */
export function defaultService(services: readonly string[]): string | undefined {
  if (services.length === 0) return '';
  return services.length === 1 ? services[0] : undefined;
}

/**
 * The refresh grant (docs/http-api.md "The refresh grant"): the token must be intact, unexpired,
 * for this service and not revoked by `token.refresh.revoke_before`; the account must still exist
 * in the authenticator that vouched for it, with the same credential fingerprint (a changed
 * password revokes). Labels come from the current config, so a reload changes what a refresh
 * grants.
 */
async function redeemRefreshToken(
  runtime: Runtime,
  token: Secret | undefined,
  service: string,
  now: number,
): Promise<Identity> {
  if (!runtime.refresh)
    throw new InvalidGrantError('refresh tokens are disabled: token.refresh is not set in the config');
  if (!token) throw new BadRequestError('missing refresh_token');
  // The filtered catalog's challenge names its own service, and a client holding only the
  // identity token of a docker login to the registry trades that token for it: a refresh token
  // for the registry whose catalog this is serves the catalog too (its tokens list no more than
  // that registry's tokens could pull). Nothing else crosses services.
  const catalog = runtime.config.catalog;
  const alsoFor = catalog !== undefined && service === catalog.service ? catalog.registryService : undefined;
  const claims = await runtime.refresh.verify(token, { service, alsoFor, now });
  // Issued while the account-name rule accepted the name (docs/http-api.md "Account names"): a
  // login under it is refused now, and so is this token, as a session naming it is.
  if (!isAccountName(claims.account)) {
    throw revoked('invalid account name', claims.account);
  }
  const issuer = runtime.authenticators.find((a) => a.name === claims.authenticator);
  if (!issuer?.lookup) throw revoked('authenticator removed', claims.account);
  // The chain's first answer decides (docs/configuration.md "Sections"), for lookups as for
  // logins: when an earlier backend now knows the account, a login would check another password,
  // so this token no longer speaks for it.
  const current = await lookupAccount(runtime.authenticators, claims.account, { through: issuer.name });
  if (current === undefined) throw revoked('account removed', claims.account);
  if (current.by !== issuer.name) {
    throw revoked('account moved to another authenticator', claims.account);
  }
  if (current.account !== undefined && current.account !== claims.account) {
    throw revoked('the account is now spelled otherwise', claims.account);
  }
  if (current.fingerprint !== claims.fingerprint) {
    throw revoked('credential changed', claims.account);
  }
  const labels = current.labels ?? claims.labels ?? {};
  return { labels, fingerprint: current.fingerprint, account: claims.account, by: issuer.name };
}

/**
 * A refresh token refused for what became of its account: the audit line says why, the client
 * only that it was revoked (whether the password changed or the account went is the owner's
 * business, not that of whoever holds the token).
 */
function revoked(why: string, account: string): InvalidGrantError {
  return new InvalidGrantError(`refresh token revoked: ${why}`, account, 'refresh token revoked');
}

/**
 * A registry page session speaks for its account as an app password from the same login would:
 * only while `oidc_auth` is configured, only if no backend before it in the chain now knows the
 * account (a login would check that backend's password instead), and only if it was issued
 * after the account's `oidc_auth.not_before`. Its labels are those the login produced.
 */
async function redeemSession(runtime: Runtime, session: SessionIdentity): Promise<Identity> {
  const oidc = runtime.config.oidc_auth;
  const deny = (reason: string) =>
    new UnauthorizedError('sign in again', { authenticator: 'oidc_auth', reason, account: session.account });
  if (oidc === undefined) throw deny('session refused: oidc_auth removed');
  // Logins hold to the rule since it was applied to them; a session from before never stands.
  if (!isAccountName(session.account)) throw deny('session refused: invalid account name');
  // A backend before oidc_auth that cannot look an account up without its password (ext_auth,
  // ldap_auth binding as the user) may hold this one: a login would then check its password,
  // and an app password of this login would be refused. It cannot say, so no session stands.
  const chain = runtime.authenticators;
  const blind = chain
    .slice(
      0,
      chain.findIndex((a) => a.name === 'oidc_auth'),
    )
    .find((a) => !a.lookup);
  if (blind !== undefined) {
    throw deny(`session refused: ${blind.name} comes before oidc_auth and cannot say whose account this is`);
  }
  // The chain's first answer decides, as for refresh tokens: when an earlier backend now knows
  // the account, a login would check that backend's password instead.
  const current = await lookupAccount(runtime.authenticators, session.account, { through: 'oidc_auth' });
  if (current !== undefined && current.by !== 'oidc_auth') {
    throw deny('session refused: account belongs to another authenticator');
  }
  const notBefore = oidc.notBefore.get(foldAccountName(session.account));
  if (notBefore !== undefined && session.issuedAt < notBefore) {
    throw deny('session revoked (oidc_auth.not_before)');
  }
  return { account: session.account, labels: session.labels, by: 'oidc_auth' };
}

/**
 * A new refresh token when the client asked for offline access (`offline_token=true`,
 * `access_type=offline`) and refresh is enabled. Never for the anonymous account (nothing to
 * remember), and never from a backend without `lookup`: docker would store a token that could
 * not be redeemed, having forgotten the password.
 */
async function offerRefreshToken(
  runtime: Runtime,
  request: TokenRequest,
  authn: Identity,
  now: number,
): Promise<Secret | undefined> {
  if (!request.offline || !runtime.refresh || authn.account === '') return undefined;
  // While the account's revoke_before lies ahead, a token issued now would be refused (the
  // check below): the client keeps its password, and gets a token once that time has passed.
  const revokedUntil = runtime.refresh.revokedBefore(authn.account);
  if (revokedUntil !== undefined && now < revokedUntil) return undefined;
  const backend = runtime.authenticators.find((a) => a.name === authn.by);
  if (!backend?.lookup) return undefined;
  const token = await runtime.refresh.issue(
    {
      account: authn.account,
      service: request.service,
      authenticator: authn.by,
      fingerprint: authn.fingerprint,
      // Only where a refresh cannot look them up again: an LDAP account in 300 groups must not
      // make a token too long to send back.
      ...(backend.labelsInRefreshToken ? { labels: authn.labels } : {}),
    },
    now,
    // A refresh token never outlives the credential it was obtained with (an app password).
    authn.expiresAt,
  );
  // Never hand out a token the refresh grant would refuse (docker would have forgotten the
  // password): without one, the client simply keeps logging in with its credentials. So too
  // for a token too long to send back.
  return token.length <= MAX_REFRESH_TOKEN_LENGTH ? token : undefined;
}
