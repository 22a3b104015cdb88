import { expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';

// Found by a review of bce1a57 ("Warn of a capture taken from a regex that holds a placeholder"). The new
// warning fires for every producer regex holding a placeholder and says docker_auth "never fills"
// the capture and the rule "never matched there". That holds only when the placeholder must be
// matched. docker_auth (auth_server/authz/acl.go, MatchConditions.Matches) compiles the producer as
// written, and in RE2 `${labels:x}` is an end of text then literal text: inside an alternative (or
// an optional group) the regex still matches through the other branch and fills the capture.
// Checked with Go 1.19: `^ci-(.+)$|^${labels:x}$` on "ci-payments" gives ["ci-payments"
// "payments"]; `${account:1}/*` becomes `payments/*`, path.Match("payments/*", "payments/app") is
// true, and the account pattern matches too: docker_auth grants, exactly as regauth does. The
// warning is false, and `regauth validate`/serve tell the operator a working rule never worked.
// Passes when no warning claims that docker_auth never fills the capture / never matched the rule.
test('a producer whose placeholder sits in an alternative docker_auth can skip is not said to never match', () => {
  const acl = compileAcl([
    { match: { account: '/^ci-(.+)$|^${labels:x}$/', name: '${account:1}/*' }, actions: ['pull'] },
  ]);
  expect(
    acl.authorize({
      account: 'ci-payments',
      type: 'repository',
      name: 'payments/app',
      service: 'registry',
      ip: null,
      labels: { x: ['q'] },
      actions: ['pull'],
    }).granted,
  ).toEqual(['pull']); // as docker_auth
  expect(acl.rules[0]!.warnings.filter((w) => /never (fills|matched)/.test(w.message))).toEqual([]);
});
