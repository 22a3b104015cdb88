import { describe, expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AclRuleConfig } from '../../src/authz/types.js';

// Found by a review of f99f54d. f99f54d compiles every `labels` pattern without docker_auth's
// reading (acl.ts compileMatchPatterns -> compilePattern(source, false)), on the grounds that
// "docker_auth expands no ${labels:...} there". True of label placeholders, but docker_auth's
// matchLabels matches labels patterns with the same `vars` as the other fields, and those hold
// the captures (`${account:1}`) it fills from the account/type/name/service patterns -- raw,
// unescaped (docs/acl.md "Differences from docker_auth" says so too: "It fills the captures ...
// there, and in `labels` patterns too"). At 8558171 such a capture was read as docker_auth reads
// it (a rule only that reading matches decides, granting nothing); since f99f54d it is not, so a
// deny whose labels pattern uses a capture no longer holds where docker_auth denies: the capture
// `john.doe` is the regex `^john.doe$` there (matching the label value `johnXdoe`), and the
// capture `*` the glob `*` (matching every label value).
// Captures come from request fields (<= 256 characters), so the reading stays linear in the
// label value; the quadratic case f99f54d removed is a LABEL placeholder against label values.
// A fix: in compilePattern's `raw`, for a labels pattern count group placeholders (the ones
// docker_auth fills), not label placeholders.

const who = { type: 'repository', service: 'registry', ip: null };

const cases: { labels: string; account: string; value: string; name: string }[] = [
  { labels: '/^${account:1}$/', account: 'john.doe@corp', value: 'johnXdoe', name: 'john.doe/app' },
  { labels: '/^${account:1}\\b/', account: 'ops.ci@corp', value: 'ops-ci', name: 'ops.ci/app' },
];

describe.each(cases)(
  'deny with labels pattern $labels, account $account, label $value',
  ({ labels, account, value, name }) => {
    const rules: AclRuleConfig[] = [
      // Deny pushing to one's own namespace while a `frozen` label names it. docker_auth fills
      // `${account:1}` because the name pattern uses it (acl.go scans only those four fields).
      {
        match: { account: '/^(.+)@corp$/', name: '${account:1}/*', labels: { frozen: labels } },
        actions: [],
      },
      { match: {}, actions: ['pull'] },
    ];
    const request = { ...who, account, labels: { frozen: [value] } };

    test('rule 0 decides, granting nothing, as docker_auth denies', () => {
      const acl = compileAcl(rules);
      expect(acl.rules[0]!.warnings).toEqual([]);
      const scope = { ...request, name, actions: ['pull'] };
      // docker_auth: `^john.doe$` matches `johnXdoe`, `^ops.ci\b` matches `ops-ci`: rule 0 denies.
      // Today: { granted: ['pull'], rule: 1 } (8558171 decided rule 0 here).
      expect(acl.authorize(scope)).toEqual({ granted: [], rule: 0 });
      expect(compileAcl(rules, 'acl', { index: false }).authorize(scope)).toEqual({ granted: [], rule: 0 });
      expect(acl.filterNames(request, 'pull', [name])).toEqual([]);
      expect(acl.explain(scope)[0]).toMatchObject({ match: 'yes', granted: [] });
    });
  },
);
