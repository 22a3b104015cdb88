/**
 * Found by a review of 70da6e5 ("Warn of glob classes docker_auth reads otherwise").
 *
 * The new warning for `[-._]` (Go's path.Match refuses a `-` where a member is due) tells the
 * operator to "escape a "-" or "]" meant as a member (\-, \])". Doing so, `[\-._]`, is a class
 * both Go (getEsc: `\-` is the member `-`) and minimatch read as `-`, `.`, `_`. But globProblem's
 * empty-range check (src/tools/lint.ts) walks the class text without skipping escapes: it reads
 * `\-.` as a range from `\` (0x5C) to `.` (0x2E), and `regauth validate` now says the glob "is not
 * a glob: the range "\-." is empty, so it matches nothing" (exit 1) for the very fix it asked for.
 * Likewise `[0-9\-A-Z]` ("\-A"). serve logs the same warning at every start and reload (081d0f4).
 */
import { expect, test } from 'vitest';
import { lintConfig } from '../../src/tools/lint.js';
import { namePatternRule } from '../helpers/name-pattern.js';

const { load, decide } = namePatternRule('regauth-escaped-dash-');

test('the advice followed: team[-._]* warned of, team[\\-._]* is not', () => {
  const before = lintConfig(load('team[-._]*')).filter((w) => w.path === 'acl[0].match.name');
  expect(before.map((w) => w.message).join()).toContain('escape a "-"');
  const fixed = load('team[\\-._]*');
  // A working class here (as in Go): it matches team-app and team.app.
  expect(decide(fixed, 'team-app')).toEqual({ granted: ['pull'], rule: 0 });
  expect(decide(fixed, 'team.app')).toEqual({ granted: ['pull'], rule: 0 });
  expect(lintConfig(fixed).filter((w) => w.path === 'acl[0].match.name')).toEqual([]);
});

test('[!-x] is a range from "!" in Go (where "!" does not negate): not said to be refused there', () => {
  const warned = lintConfig(load('team[!-x]*')).filter((w) => w.path === 'acl[0].match.name');
  expect(warned.map((w) => w.message).join()).not.toContain('never matched this rule');
});

// The class's end was found by the first `]`, escaped or not: `[\]-]` (the members `]` and `-`
// here) was read as a class of one `\`, so the `-` where Go wants a range's end went unseen.
test('[\\]-] (a "-" after an escaped "]") is warned of: Go refuses it, minimatch reads "]" and "-"', () => {
  const config = load('team[\\]-]*');
  expect(decide(config, 'team-app')).toEqual({ granted: ['pull'], rule: 0 });
  const warned = lintConfig(config).filter((w) => w.path === 'acl[0].match.name');
  expect(warned.map((w) => w.message).join()).toContain('never matched this rule');
});

test('[\\]\\-] (both escaped) is a class Go and minimatch read alike: no warning', () => {
  const config = load('team[\\]\\-]*');
  expect(decide(config, 'team-app')).toEqual({ granted: ['pull'], rule: 0 });
  expect(lintConfig(config).filter((w) => w.path === 'acl[0].match.name')).toEqual([]);
});
