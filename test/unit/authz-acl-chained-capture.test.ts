import { expect, test } from 'vitest';
import { compileAcl, type CompiledAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig, AuthzRequest } from '../../src/authz/types.js';
import { ConfigErrors } from '../../src/core/errors.js';

// Found by a review of cc7f4fc (captures docker_auth never fills are warned of). docs/acl.md:
// "A rule with a capture docker_auth never fills never matched there and matches here: `regauth
// validate` warns." One more such capture is not warned of: one taken from a producer pattern that
// itself holds a placeholder. docker_auth (auth_server/authz/acl.go, Matches, lines 294-312)
// compiles the producer field AS WRITTEN, placeholders unreplaced: `^${account:1}\/(.+)$` is, in
// RE2, an end-of-text `$` followed by the literal `{account:1}`, which never matches, so
// FindStringSubmatch is nil, the capture is skipped (line 313) and `${name:1}` stays literal: the
// rule never matched. Checked by running docker_auth's acl.go (MatchConditions.Matches) under Go:
// both rules below give false. regauth resolves the producer first (orderByCaptures) and fills the
// capture: the rule grants, with no warning.
// Passes when regauth decides as docker_auth, or refuses the rule at load, or warns about it.

const base: AuthzRequest = {
  account: 'ci-payments',
  type: 'repository',
  name: 'payments/registry',
  service: 'registry',
  ip: null,
  labels: { team: ['payments'] },
  actions: ['pull', 'push'],
};

function compiled(rules: AclRuleConfig[]): CompiledAcl | undefined {
  let acl: CompiledAcl;
  try {
    acl = compileAcl(rules);
  } catch (err) {
    if (err instanceof ConfigErrors && err.errors.some((e) => e.path.startsWith('acl[0]'))) return undefined;
    throw err;
  }
  return acl.rules[0]!.warnings.length > 0 ? undefined : acl;
}

test('a capture of a name regex that holds ${account:1} does not grant (docker_auth never fills it)', () => {
  const acl = compiled([
    {
      match: { account: '/^ci-(.+)$/', name: '/^${account:1}\\/(.+)$/', service: '${name:1}' },
      actions: ['push'],
    },
    { match: {}, actions: ['pull'] },
  ]);
  if (!acl) return;
  expect(acl.authorize(base)).toEqual({ granted: ['pull'], rule: 1 });
});

test('a capture of a name regex that holds ${labels:team} does not grant (docker_auth never fills it)', () => {
  const acl = compiled([
    { match: { name: '/^${labels:team}\\/(.+)$/', service: '${name:1}' }, actions: ['push'] },
    { match: {}, actions: ['pull'] },
  ]);
  if (!acl) return;
  expect(acl.authorize({ ...base, name: 'payments/app', service: 'app' })).toEqual({
    granted: ['pull'],
    rule: 1,
  });
});
