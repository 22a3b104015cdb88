import { expect, test } from 'vitest';
import { compilePattern, PatternCache } from '../../src/authz/pattern.js';

// Found by a review of 36c0504 ("Refuse a glob class that starts with an escaped ^"). CARET_FIRST is a regex
// over the text that looks for any `[` not escaped followed by `\^`, without knowing whether that
// `[` opens a class or is itself a member of one. In `x[[\^a]` and `x[a[\^b]` the second `[` is a
// member: the class's first member is `[` or `a`, not `^`. minimatch reads both correctly (the JS
// classes [\[^a] and [a\[^b]: not negated) and so does Go's path.Match (members [ ^ a), so the
// two engines agree, yet the pattern is refused at load with "a class whose first member is an
// escaped ^": a docker_auth config that worked no longer loads, with a message that is untrue.
// Passes when such a pattern compiles and matches as Go does.

test.each([
  ['x[[\\^a]', ['xa', 'x[', 'x^'], ['xb']],
  ['x[a[\\^b]', ['xa', 'x[', 'x^', 'xb'], ['xc']],
])('%s (a [ that is a class member, then \\^) is not refused and matches as Go does', (source, yes, no) => {
  const pattern = compilePattern(source);
  const cache = new PatternCache();
  const matches = (v: string) =>
    pattern.match(
      v,
      () => undefined,
      cache,
      () => {},
    ) !== null;
  expect(yes.filter((v) => !matches(v))).toEqual([]);
  expect(no.filter(matches)).toEqual([]);
});
