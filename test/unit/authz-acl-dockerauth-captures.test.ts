import { expect, test } from 'vitest';
import { compileAcl, type CompiledAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig, AuthzRequest } from '../../src/authz/types.js';
import { ConfigErrors } from '../../src/core/errors.js';

// Found by a review of the docker_auth drop-in promise (docs/acl.md "Placeholders", "Differences from
// docker_auth").
//
// docker_auth fills capture placeholders in MatchConditions.Matches (auth_server/authz/acl.go,
// lines 289-319): it looks for `${field:N}` in the Account, Type, Name and Service patterns only
// (line 289), and skips a group index below 1 (line 313: `if index < 1 || index > len(text)-1 {
// continue }`). A placeholder it skips stays in the pattern as literal text, which matches no
// value, so the rule never matches:
//
// - `${account:1}` written only in a `labels` pattern is never filled there (matchLabels, line
//   333, gets the same `vars`); docs/acl.md says docker_auth expands "captures there", which its
//   code does not;
// - `${account:0}` is never filled anywhere.
//
// regauth fills both (`group 0 is the whole match`), so a rule that never granted anything under
// docker_auth grants after the migration, without an error or a warning.
//
// Passes when regauth decides as docker_auth, or refuses the rule at load, or warns about it.

const base: AuthzRequest = {
  account: 'ci-payments',
  type: 'repository',
  name: 'payments/app',
  service: 'registry',
  ip: null,
  labels: { team: ['payments'] },
  actions: ['pull', 'push'],
};

/** The compiled ACL, or undefined when regauth refuses or warns about rule 0 (the test then passes). */
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

test('${account:1} used only in a labels pattern does not grant (docker_auth never fills it there)', () => {
  const acl = compiled([
    { match: { account: '/^ci-(.+)$/', labels: { team: '${account:1}' } }, actions: ['push'] },
    { match: {}, actions: ['pull'] },
  ]);
  if (!acl) return;
  expect(acl.authorize(base)).toEqual({ granted: ['pull'], rule: 1 });
});

test('${account:0} does not grant (docker_auth skips group 0)', () => {
  const acl = compiled([
    { match: { account: '/^[a-z]+-[a-z]+$/', name: '${account:0}/*' }, actions: ['*'] },
    { match: {}, actions: ['pull'] },
  ]);
  if (!acl) return;
  expect(acl.authorize({ ...base, name: 'ci-payments/app' })).toEqual({ granted: ['pull'], rule: 1 });
});

// docker_auth finds the captures of a pattern with `\$\{(.+?):(\d+)\}` (acl.go, line 271): from
// the first `${` of the pattern up to the first `:N}`, lazily. After an earlier `${…}` in the same
// pattern (`${labels:team}/${account:1}`), the name it reads is `labels:team}/${account`, no
// field, so it skips it (line 295) and `${account:1}` stays literal text: the rule never matched.

test('${account:1} after an earlier ${…} in the same pattern does not grant (docker_auth reads both as one name)', () => {
  const acl = compiled([
    { match: { account: '/^ci-(.+)$/', name: '${labels:team}/${account:1}' }, actions: ['push'] },
    { match: {}, actions: ['pull'] },
  ]);
  if (!acl) return;
  expect(acl.authorize({ ...base, name: 'payments/payments' })).toEqual({ granted: ['pull'], rule: 1 });
});

test('a capture docker_auth skips in a field is skipped in the labels patterns too', () => {
  const acl = compiled([
    {
      match: { account: '/^ci-(.+)$/', name: '${account}/${account:1}', labels: { team: '${account:1}' } },
      actions: ['push'],
    },
    { match: {}, actions: ['pull'] },
  ]);
  if (!acl) return;
  expect(acl.authorize({ ...base, name: 'ci-payments/payments' })).toEqual({ granted: ['pull'], rule: 1 });
});

test('captures docker_auth does fill stay without a warning', () => {
  const acl = compileAcl([
    {
      match: { account: '/^ci-(.+)-(.+)$/', name: '${account:1}/${account:2}/${labels:team}' },
      actions: ['push'],
    },
    {
      match: { account: '/^ci-(.+)$/', name: '${account:1}/*', labels: { team: '${account:1}' } },
      actions: ['push'],
    },
  ]);
  expect(acl.rules.map((r) => r.warnings)).toEqual([[], []]);
  expect(acl.authorize({ ...base, account: 'ci-payments-app', name: 'payments/app/payments' })).toEqual({
    granted: ['push'],
    rule: 0,
  });
});
