/**
 * goGlob reads a pattern as Go's path.Match does (docker_auth's globs): the cases of Go's own
 * table (path/match_test.go), ErrBadPattern read as no match, as docker_auth reads it.
 */
import { expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import { goGlob } from '../../src/authz/go-glob.js';

test.each<[string, string, boolean]>([
  ['abc', 'abc', true],
  ['*', 'abc', true],
  ['*c', 'abc', true],
  ['a*', 'a', true],
  ['a*', 'abc', true],
  ['a*', 'ab/c', false],
  ['a*/b', 'abc/b', true],
  ['a*/b', 'a/c/b', false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false],
  ['ab[c]', 'abc', true],
  ['ab[b-d]', 'abc', true],
  ['ab[e-g]', 'abc', false],
  ['ab[^c]', 'abc', false],
  ['ab[^b-d]', 'abc', false],
  ['ab[^e-g]', 'abc', true],
  ['a\\*b', 'a*b', true],
  ['a\\*b', 'ab', false],
  ['a?b', 'a☺b', true],
  ['a[^a]b', 'a☺b', true],
  ['a???b', 'a☺b', false],
  ['a[^a][^a][^a]b', 'a☺b', false],
  ['[a-ζ]*', 'α', true],
  ['*[a-ζ]', 'A', false],
  ['a?b', 'a/b', false],
  ['a*b', 'a/b', false],
  ['[\\]a]', ']', true],
  ['[\\-]', '-', true],
  ['[x\\-]', 'x', true],
  ['[x\\-]', '-', true],
  ['[x\\-]', 'z', false],
  ['[\\-x]', 'x', true],
  ['[\\-x]', '-', true],
  ['[\\-x]', 'a', false],
  ['*x', 'xxx', true],
  // ErrBadPattern: no match.
  ['[]a]', ']', false],
  ['[-]', '-', false],
  ['[x-]', 'x', false],
  ['[-x]', 'x', false],
  ['\\', 'a', false],
  ['[a-b-c]', 'a', false],
  ['[', 'a', false],
  ['[^', 'a', false],
  ['[^bc', 'a', false],
  ['a[', 'a', false],
  ['a/b[', 'x', false],
  // No braces, no extended globs: text.
  ['{a,b}', 'a', false],
  ['{a,b}', '{a,b}', true],
  ['!(x)', '!(x)', true],
])('%s matches %s: %s', (pattern, value, expected) => {
  expect(goGlob(pattern)(value)).toBe(expected);
});

test('a label value full of stars is read without backtracking (no regular expression is made of it)', () => {
  // As a regular expression (minimatch's), `*a*a*…*b` against a long run of a's backtracks for
  // minutes; Go's procedure, and this one, tries each star once.
  const acl = compileAcl([
    { match: { name: '${labels:blocked}' }, actions: [] },
    { match: {}, actions: ['pull'] },
  ]);
  const value = `${'*a'.repeat(40)}*b`;
  const decision = acl.authorize({
    account: 'x',
    type: 'repository',
    name: 'a'.repeat(250),
    service: 'r',
    ip: null,
    labels: { blocked: [value] },
    actions: ['pull'],
  });
  expect(decision).toEqual({ granted: ['pull'], rule: 1 });
});

test('a label value read as a regular expression with its own quantifiers runs in linear time', () => {
  // `(a+)+$` run on a long run of a's and a `!` backtracks exponentially in JavaScript; RE2, what
  // docker_auth runs, reads it in one pass (no match here: the deny does not decide).
  const acl = compileAcl([
    { match: { name: '/^${labels:team}/' }, actions: [] },
    { match: {}, actions: ['pull'] },
  ]);
  const decision = acl.authorize({
    account: 'x',
    type: 'repository',
    name: `${'a'.repeat(5000)}!`,
    service: 'r',
    ip: null,
    labels: { team: ['(a+)+$'] },
    actions: ['pull'],
  });
  expect(decision).toEqual({ granted: ['pull'], rule: 1 });
});
