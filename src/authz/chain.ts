import type { CompiledAcl } from './acl.js';
import { BadRequestError } from '../core/errors.js';
import type { AuthorizeOptions, ExtAuthorizer } from './ext.js';
import type { AuthzDecision, AuthzRequest } from './types.js';

/**
 * Decides every scope of a request, in order. Without `ext_authz` the ACL alone decides, and
 * synchronously: no promise per scope on the token path.
 *
 * With `ext_authz`, the scopes no ACL rule matches are counted first: more than
 * `ext_authz.max_calls_per_request` is a BadRequestError (400) before any command runs. They are
 * then asked one after the other, so one request has at most one command in flight (the
 * per-client bound counts requests, not scopes), and a failure (503) or an aborted `signal`
 * (the client went away) leaves the rest unasked. Identical scopes were merged when the
 * request was parsed, so each (account, labels, scope) is decided once per request.
 */
export async function authorizeScopes(
  acl: CompiledAcl,
  ext: ExtAuthorizer | undefined,
  requests: readonly AuthzRequest[],
  options: AuthorizeOptions = {},
): Promise<AuthzDecision[]> {
  const decisions = aclDecisions(acl, requests);
  if (!ext) return decisions;
  const asks = decisions.flatMap((d, i) => (d.rule === null ? [i] : []));
  if (asks.length > ext.maxCallsPerRequest) {
    throw new BadRequestError(
      `${asks.length} scopes need ext_authz; at most ${ext.maxCallsPerRequest} per request`,
      'invalid_scope',
    );
  }
  for (const i of asks) {
    decisions[i] = {
      granted: await ext.authorize(requests[i]!, options),
      rule: null,
      authorizer: 'ext_authz',
    };
  }
  return decisions;
}

/** The ACL's decision for every scope, in order: authorizeScopes' answer without `ext_authz`. */
export function aclDecisions(acl: CompiledAcl, requests: readonly AuthzRequest[]): AuthzDecision[] {
  return requests.map((r) => acl.authorize(r));
}

/**
 * Decides one scope with the authorizers in their order, `acl` then `ext_authz` (docs/acl.md
 * "ext_authz"), the way docker_auth chains them: the first authorizer that has an opinion decides.
 * The ACL has one when a rule matched (including `actions: []`, an explicit deny); only a scope
 * that no ACL rule matches goes to `ext_authz`, whose answer (all requested actions, or none) is
 * final. Without `ext_authz` such a scope gets nothing (deny by default).
 *
 * So an ACL rule can both grant without asking the command and deny without asking it; put a
 * catch-all rule last only if the command should never be consulted.
 * Throws BackendUnavailableError when `ext_authz` cannot answer.
 */
export async function authorizeScope(
  acl: CompiledAcl,
  ext: ExtAuthorizer | undefined,
  request: AuthzRequest,
  options: AuthorizeOptions = {},
): Promise<AuthzDecision> {
  const decision = acl.authorize(request);
  if (decision.rule !== null || !ext) return decision;
  return { granted: await ext.authorize(request, options), rule: null, authorizer: 'ext_authz' };
}
