import { expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AuthzRequest } from '../../src/authz/types.js';

// docs/acl.md "Regular expressions and globs": a value ending in `/` is matched as path.Match
// matches it. 551703e checked a glob alternative ending in `/` with minimatch again, which applied
// its directory convention once more: `ops/*/` granted the label value `ops/x//`, one segment
// longer, where path.Match does not match. Such a value holds two empty segments, so the glob
// decides and grants nothing (docs/acl.md, values with more than one such segment). Found by a
// review of that change.

const base: AuthzRequest = {
  account: 'alice',
  type: 'repository',
  name: 'team/app',
  service: 'registry',
  ip: null,
  labels: {},
  actions: ['push', 'pull'],
};

test('a glob ending in "/" grants nothing to a value ending in "//"', () => {
  const acl = compileAcl([
    { match: { labels: { group: 'ops/*/' } }, actions: ['push'] },
    { match: {}, actions: ['pull'] },
  ]);
  const asked = (group: string) => acl.authorize({ ...base, labels: { group: [group] } }).granted;
  expect(asked('ops/x//')).toEqual([]);
  expect(asked('ops/x/')).toEqual(['push']);
});
