import { Minimatch } from 'minimatch';
import { afterEach, describe, expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import type { AuthzRequest } from '../../src/authz/types.js';

const originalTest = RegExp.prototype.test;
const originalMatch = Minimatch.prototype.match;
afterEach(() => {
  RegExp.prototype.test = originalTest;
  Minimatch.prototype.match = originalMatch;
});

/** How many RegExp#test calls one authorize makes. */
function regexTests(run: () => void): number {
  let n = 0;
  RegExp.prototype.test = function (this: RegExp, s: string) {
    n++;
    return originalTest.call(this, s);
  };
  try {
    run();
  } finally {
    RegExp.prototype.test = originalTest;
  }
  return n;
}

/** How many Minimatch#match calls `run` makes. */
function globMatches(run: () => void): number {
  let n = 0;
  Minimatch.prototype.match = function (this: Minimatch, ...args: Parameters<Minimatch['match']>) {
    n++;
    return originalMatch.apply(this, args);
  };
  try {
    run();
  } finally {
    Minimatch.prototype.match = originalMatch;
  }
  return n;
}

const req = (account: string, labels: AuthzRequest['labels'] = {}): AuthzRequest => ({
  account,
  type: 'repository',
  name: 'x/y',
  service: 'registry',
  ip: null,
  labels,
  actions: ['pull'],
});

// Found by a review: every glob miss on a value holding a "." (john.doe, team.a) ran the
// DOT_SEGMENT regex, though a value without "/" longer than 2 characters can never hold a dot
// segment (200 rules `labels: {group: "*-teamN"}`, dotted values: 72 → 89 µs per scope). Counted
// here as regex calls, which timing on a shared machine cannot show reliably.
describe('a dot segment: the hot path for ordinary dotted values', () => {
  test('a dotted value that misses a glob costs no more regex work than an undotted one', () => {
    const acl = compileAcl([
      { match: { labels: { group: '*-admins' } }, actions: ['*'] },
      { match: { account: '*-bot' }, actions: ['*'] },
      { match: {}, actions: ['pull'] },
    ]);
    const req = (account: string, group: string[]): AuthzRequest => ({
      account,
      type: 'repository',
      name: 'x/y',
      service: 'registry',
      ip: null,
      labels: { group },
      actions: ['pull'],
    });
    // Warm the caches.
    acl.authorize(req('john.doe', ['team.a', 'dev.x']));
    acl.authorize(req('johndoe', ['teama', 'devx']));
    const dotted = regexTests(() => acl.authorize(req('john.doe', ['team.a', 'dev.x'])));
    const plain = regexTests(() => acl.authorize(req('johndoe', ['teama', 'devx'])));
    expect(dotted).toBe(plain);
  });
});

// Found by a review of 9f56628, which tried a value's dot segments in every combination of their
// stand-in forms (4 for ".", 7 for ".."): 49 whole-value glob matches for each glob that missed a
// value with two ".." segments, where an undotted value costs 1. 1,000 rules `account: "*-botN"`
// and an account "../…/.." took 51 ms per scope instead of 1 (64 scopes a request); 100 label
// values under `labels: {x: "${labels:y}-*"}` 383 ms instead of 10. Only a value with one such
// segment is tried in its forms now; one with more decides at once.
describe('the cost of a value with dot segments', () => {
  test('a glob that misses it is matched a bounded number of times', () => {
    const acl = compileAcl([
      { match: { account: '*-bot' }, actions: [] },
      { match: {}, actions: ['pull'] },
    ]);
    acl.authorize(req('a/xx/b/xx'));
    expect(globMatches(() => acl.authorize(req('a/xx/b/xx')))).toBe(1);
    expect(globMatches(() => acl.authorize(req('a/../b/xx')))).toBeLessThanOrEqual(10);
    expect(globMatches(() => acl.authorize(req('a/../b/..')))).toBeLessThanOrEqual(10);
  });

  test('with a placeholder, per label value', () => {
    const acl = compileAcl([
      { match: { account: '${labels:y}-*' }, actions: [] },
      { match: {}, actions: ['pull'] },
    ]);
    const labels = { y: ['t1', 't2', 't3'] };
    acl.authorize(req('x/aa/bb', labels));
    const plain = globMatches(() => acl.authorize(req('x/aa/bb', labels)));
    expect(plain).toBe(3);
    expect(globMatches(() => acl.authorize(req('x/../bb', labels)))).toBeLessThanOrEqual(10 * plain);
    expect(globMatches(() => acl.authorize(req('x/../..', labels)))).toBeLessThanOrEqual(10 * plain);
  });
});

// Found by a later review: every group path an OIDC provider sends with a leading `/` holds an
// empty segment, and each glob miss on one built its stand-in forms and matched them again, even
// for a glob of one segment that can never match a value of three (200 rules `*-teamN` and 200
// `*-botN`, two groups: 96 µs per scope before, 590 after). A glob none of whose alternatives has
// the value's number of segments (or a `**`) is not tried in the forms.
describe('an OIDC group path on the hot path', () => {
  test('a group path that misses a one-segment glob costs what a path without the leading "/" costs', () => {
    const acl = compileAcl([
      { match: { labels: { group: '*-admins' } }, actions: ['*'] },
      { match: { labels: { group: '*-team1' } }, actions: ['push'] },
      { match: {}, actions: ['pull'] },
    ]);
    const keycloak = req('alice', { group: ['/team/a', '/dev/x'] });
    const slashed = req('alice', { group: ['team/a', 'dev/x'] });
    expect(acl.authorize(keycloak)).toEqual({ granted: ['pull'], rule: 2 });
    expect(acl.authorize(slashed)).toEqual({ granted: ['pull'], rule: 2 });
    const plain = globMatches(() => acl.authorize(slashed));
    expect(plain).toBe(4);
    expect(globMatches(() => acl.authorize(keycloak))).toBe(plain);
  });

  test('with a placeholder, per label value', () => {
    const acl = compileAcl([
      { match: { labels: { group: '${account}-*' } }, actions: ['*'] },
      { match: {}, actions: ['pull'] },
    ]);
    const plain = globMatches(() => acl.authorize(req('alice', { group: ['team/a', 'dev/x'] })));
    expect(plain).toBe(2);
    expect(globMatches(() => acl.authorize(req('alice', { group: ['/team/a', '/dev/x'] })))).toBe(plain);
  });
});
