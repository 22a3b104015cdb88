/**
 * docs/cli.md "`regauth validate`": lint warns of rules that can never decide, after a catch-all.
 * `match: {labels: {}}` puts no condition on the request (no label is required), so it matches
 * every request exactly as `match: {}` does (`regauth check` shows acl[0] deciding for any
 * account), yet the lint only counts a match with no key at all as a catch-all: the rules after
 * it are dead and `validate` says "ok". Found by a review.
 */
import { expect, test } from 'vitest';
import { lintConfig } from '../../src/tools/lint.js';
import { aclRequest, useConfigText } from '../helpers/config.js';

const config = useConfigText('lint-labels-catch-all-');

const rules = (first: string) => `users:
  alice: {labels: {group: [devs]}}
acl:
  - match: ${first}
    actions: [pull]
  - match: {account: alice}
    actions: ["*"]
`;

test('the rule after `match: {}` is warned as never deciding (the documented case)', () => {
  const warnings = lintConfig(config.load(rules('{}')));
  expect(warnings.map((w) => w.path)).toContain('acl[1]');
});

test('the rule after `match: {labels: {}}`, a catch-all too, is warned as never deciding', () => {
  const loaded = config.load(rules('{labels: {}}'));
  // It is a catch-all: alice (with her labels, or none) and the anonymous account are decided by acl[0].
  expect(loaded.acl.authorize(aclRequest('alice', 'team/app', { group: ['devs'] })).granted).toEqual([
    'pull',
  ]);
  expect(loaded.acl.authorize(aclRequest('alice', 'team/app')).granted).toEqual(['pull']);
  expect(loaded.acl.authorize(aclRequest('', 'team/app')).granted).toEqual(['pull']);
  const warnings = lintConfig(loaded);
  expect(warnings.filter((w) => w.path === 'acl[1]').map((w) => w.message)).toEqual([
    expect.stringMatching(/never decides: acl\[0\]/),
  ]);
});
