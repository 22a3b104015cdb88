import { expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AuthzRequest } from '../../src/authz/types.js';

const base: AuthzRequest = {
  account: 'alice',
  type: 'repository',
  name: 'team/app',
  service: 'registry',
  ip: null,
  labels: {},
  actions: ['pull'],
};

// docs/acl.md "Regular expressions and globs": `*` is any run of characters except `/`. minimatch also lets a glob match
// a value one segment longer whose last is empty (`devs/*` matched `devs/x/`, `*` matched
// `alice/`), where docker_auth's path.Match does not: an account or a label value ending in `/`
// was granted what the glob does not say. Found by a review.
test('a glob does not match an account or label value ending in "/" through minimatch\'s directory convention', () => {
  const byLabel = compileAcl([{ match: { labels: { group: 'devs/*' } }, actions: ['pull'] }]);
  expect(byLabel.authorize({ ...base, labels: { group: ['devs/x/'] } }).granted).toEqual([]);
  const byAccount = compileAcl([{ match: { account: '*' }, actions: ['pull'] }]);
  expect(byAccount.authorize({ ...base, account: 'alice/' }).granted).toEqual([]);
});

test('a value ending in "/" is matched where the glob writes that segment, or by **, and otherwise falls through', () => {
  const acl = compileAcl([
    { match: { labels: { group: 'devs/*' } }, actions: ['push'] },
    { match: { labels: { group: 'ops/*/' } }, actions: ['push'] },
    { match: { labels: { group: 'qa/**' } }, actions: ['push'] },
    { match: {}, actions: ['pull'] },
  ]);
  const asked = (group: string) =>
    acl.authorize({ ...base, actions: ['push', 'pull'], labels: { group: [group] } }).granted;
  expect(asked('devs/x')).toEqual(['push']);
  expect(asked('devs/x/')).toEqual(['pull']); // as path.Match: the next rule decides
  expect(asked('ops/x/')).toEqual(['push']);
  expect(asked('qa/x/')).toEqual(['push']);
  expect(asked('qa/x/y/')).toEqual(['push']);
});
