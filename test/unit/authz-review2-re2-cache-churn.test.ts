import { RE2JS } from 're2js';
import { afterEach, expect, test, vi } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';

// Found by a review of 8558171 (PatternCache.re2). docker_auth's reading of a regex with a label value that
// holds regex syntax is compiled by RE2 (re2js) and kept in a FIFO cache of RE2_ENTRIES = 1000,
// shared by every caller. An account may bring up to MAX_LABEL_COMBINATIONS (10,000) values for
// one label (any backend: LDAP groups, OIDC claims, ext_auth); with 1,001 or more such values the
// FIFO evicts in a cycle, and EVERY request compiles every value again -- and flushes every other
// caller's entries. The earlier review's churn test (authz-review-cache-churn) asked exactly this
// of globs. Counted here: RE2JS.compile calls on the second, identical scope. Measured (not
// asserted): 9,999 values `team<i>.x` cost 9,999 compiles and ~250 ms per scope, every scope,
// against ~9 ms once cached.
// A fix: a budget of at least MAX_LABEL_COMBINATIONS for these texts (or an LRU keyed per caller),
// or compile docker_auth's reading only when a cheaper test says it can matter.

afterEach(() => vi.restoreAllMocks());

test('deciding the same scope twice compiles no RE2 the second time', () => {
  const acl = compileAcl([
    { match: { name: '/^${labels:team}\\//' }, actions: [] },
    { match: {}, actions: ['pull'] },
  ]);
  const request = {
    account: 'dev',
    type: 'repository',
    name: 'org/app',
    service: 'registry',
    ip: null,
    // `.` is regex syntax: each value is read as docker_auth reads it (RE2), and matches nothing here.
    labels: { team: Array.from({ length: 1500 }, (_, i) => `team${i}.x`) },
    actions: ['pull'],
  };
  const compile = vi.spyOn(RE2JS, 'compile');
  expect(acl.authorize(request)).toEqual({ granted: ['pull'], rule: 1 });
  expect(compile.mock.calls.length).toBeGreaterThan(0);
  compile.mockClear();
  expect(acl.authorize(request)).toEqual({ granted: ['pull'], rule: 1 });
  // Today: 1,500.
  expect(compile.mock.calls.length).toBe(0);
});
