import { expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AuthzRequest } from '../../src/authz/types.js';
import { ConfigErrors } from '../../src/core/errors.js';

// Found by a review of the docker_auth drop-in promise (docs/acl.md "Actions").
//
// docker_auth grants every requested action only for an actions list of exactly one "*"
// (auth_server/authz/acl.go, aclAuthorizer.Authorize: `len(*e.Actions) == 1 &&
// (*e.Actions)[0] == "*"`); any other list is intersected with the request
// (StringSetIntersection), so `actions: ["*", "*"]` grants only a literal `*` (the catalog's
// `registry:catalog:*`) and gives a `pull,push` request nothing.
//
// regauth's compileActions reads any list made only of "*" as "all": it grants pull and push.
// docs/acl.md refuses "*" mixed with other actions as ambiguous; a repeated "*" is not refused.
//
// Passes when regauth refuses the list at load or decides as docker_auth.

const request: AuthzRequest = {
  account: 'alice',
  type: 'repository',
  name: 'team/app',
  service: 'registry',
  ip: null,
  labels: {},
  actions: ['pull', 'push'],
};

test('actions: ["*", "*"] does not grant pull and push (docker_auth intersects it)', () => {
  let granted: string[];
  try {
    granted = compileAcl([{ match: { account: 'alice' }, actions: ['*', '*'] }]).authorize(request).granted;
  } catch (err) {
    if (err instanceof ConfigErrors) return;
    throw err;
  }
  expect(granted).toEqual([]);
});
