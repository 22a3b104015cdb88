import type { CompiledAcl } from './acl.js';
import type { ExtAuthorizer } from './ext.js';
import type { AuthzDecision, AuthzRequest } from './types.js';

/**
 * Decides every scope of a request, in order. Without `ext_authz` the ACL alone decides, and
 * synchronously: no promise per scope on the token path.
 */
export async function authorizeScopes(
  acl: CompiledAcl,
  ext: ExtAuthorizer | undefined,
  requests: readonly AuthzRequest[],
): Promise<AuthzDecision[]> {
  if (!ext) return requests.map((r) => acl.authorize(r));
  return Promise.all(requests.map((r) => authorizeScope(acl, ext, r)));
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
): Promise<AuthzDecision> {
  const decision = acl.authorize(request);
  if (decision.rule !== null || !ext) return decision;
  return { granted: await ext.authorize(request), rule: null, authorizer: 'ext_authz' };
}
