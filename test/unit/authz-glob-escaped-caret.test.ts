import { expect, test } from 'vitest';
import { lintConfig } from '../../src/tools/lint.js';
import { namePatternRule } from '../helpers/name-pattern.js';

// Found by a review of b5c655e (escapes inside glob classes), by running every pattern of up to 5
// characters over a-z - ] [ \ ^ ! / through Go's path.Match, minimatch and the lint.
// In `[\^a]` the `^` is escaped: a member, not a negation. Go's path.Match (and a shell) read the
// members `^` and `a`. The class parser of the matcher minimatch uses here
// (@isaacs/nonrecursive-glob-match, dist/esm/parse-class.js) keeps the members `^`, `a` but its
// braceEscape escapes only [ ] \ -, so it emits the JS class `[^a]`: NEGATED. `team-[\^a]`
// matches team-b, team-c, ... and not team-a, the opposite of what docker_auth granted, and
// neither loading nor `regauth validate` says a word. (`[\^]` alone is taken as the literal `^`
// and `[\!a]` is read correctly; `[\^-z]` is broken the same way.)
// Passes when regauth matches as Go does, refuses the pattern, or the lint warns of it.
const { loadUnlessRefused: load, decide } = namePatternRule('regauth-review-ext2-caret-');

test('team-[\\^a] (an escaped caret, a member in Go) does not grant team-b unwarned', () => {
  const config = load('team-[\\^a]');
  if (!config) return;
  if (lintConfig(config).some((w) => w.path === 'acl[0].match.name')) return;
  // docker_auth (Go's path.Match): team-a matches, team-b does not.
  expect([decide(config, 'team-a').granted, decide(config, 'team-b').granted]).toEqual([['pull'], []]);
});
