import { expect, test } from 'vitest';
import { compilePattern, PatternCache } from '../../src/authz/pattern.js';

// Found by a review of fee5af8 (caretFirst / literalPortion). caretFirst exempts `[\^]` in a
// `/`-portion that minimatch's literal() would match as text, reading each alternative that
// regauth's own braceExpand gives. But Minimatch keeps a numeric range of 100 or more values
// (`{1..100}`) unexpanded, as `<mark>1..100<mark>` inside the portion (#expandBraces), and
// parse() never calls literal() on a portion holding that mark: the portion goes to the Matcher,
// where parseClass writes `[\^]` as the regex class `[^]` (any character). So `{1..100}[\^]`
// loads and matches `1a`, where each alternative under Go's path.Match (`1[\^]`, ...) matches
// only `1^`. Passes when such a pattern is refused at load or matches as Go does.

test.each([
  ['{1..100}[\\^]', ['1^', '57^'], ['1a', '57b']],
  ['x{0..150}[\\^]y', ['x3^y'], ['x3ay']],
])('%s (a [\\^] beside a long numeric range) is refused or matches as Go does', (source, yes, no) => {
  let pattern;
  try {
    pattern = compilePattern(source);
  } catch {
    return; // refused at load: fine
  }
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
