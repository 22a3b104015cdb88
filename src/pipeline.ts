import { BadRequestError, UnauthorizedError } from './errors.js';
import { authenticate } from './authn/chain.js';
import type { AuthzDecision } from './authz/types.js';
import type { TokenRequest } from './request/token-request.js';
import { formatScope, type Scope } from './request/scope.js';
import type { AccessEntry } from './token/types.js';
import type { Runtime } from './runtime.js';

/** Who asks and from where, as the HTTP layer determined it. */
export interface RequestContext {
  /** The client address (after trusted-proxy resolution), or null. */
  readonly ip: string | null;
  /** Unix time in seconds. */
  readonly now: number;
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
  /** Granted access, one entry per resource with at least one action. */
  readonly access: readonly AccessEntry[];
  readonly decisions: readonly ScopeDecision[];
  /** `type:name:actions` of the granted entries, space-joined (OAuth2 `scope`). */
  readonly scope: string;
}

/**
 * The token endpoint's whole pipeline, free of HTTP: authenticate → authorize → sign.
 * (Parsing happened in src/request; responding happens in src/http.)
 * Throws BadRequestError, UnauthorizedError, BackendUnavailableError.
 */
export async function issueToken(
  runtime: Runtime,
  request: TokenRequest,
  ctx: RequestContext,
): Promise<TokenResult> {
  const { config } = runtime;
  const services = config.token.services;
  if (services.length > 0 && !services.includes(request.service)) {
    throw new BadRequestError(`unknown service ${JSON.stringify(request.service.slice(0, 80))}`);
  }

  // authenticate
  const authn = await authenticate(runtime.authenticators, request.credentials, runtime.verifier);
  if (authn.outcome === 'denied') {
    throw new UnauthorizedError(undefined, { authenticator: authn.by, reason: authn.reason });
  }
  const account = request.credentials.account;

  // authorize each scope; a denied scope is not an error, the token just carries less.
  const decisions: ScopeDecision[] = request.scopes.map((scope) => ({
    scope,
    decision: config.acl.authorize({
      account,
      type: scope.type,
      name: scope.name,
      service: request.service,
      ip: ctx.ip,
      labels: authn.labels,
      actions: scope.actions,
    }),
  }));
  const access: AccessEntry[] = decisions
    .filter((d) => d.decision.granted.length > 0)
    .map((d) => ({ type: d.scope.type, name: d.scope.name, actions: d.decision.granted }));

  // sign
  const expiresIn = config.token.expiration;
  const token = runtime.sign({ subject: account, audience: request.service, access }, ctx.now, expiresIn);
  return {
    token,
    expiresIn,
    issuedAt: new Date(ctx.now * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    account,
    authenticatedBy: authn.by,
    access,
    decisions,
    scope: access.map(formatScope).join(' '),
  };
}
