import { expect, test } from 'vitest';
import { compilePattern, PatternCache } from '../../src/authz/pattern.js';

// Found by a review of fee5af8 (caretFirst / literalPortion). compileGlob reads each alternative
// with every placeholder replaced by `x`, and literalPortion then finds `@(${account}[\^]`
// literal (an `@(` with no `)` after it is text), so the `[\^]` is exempt. But minimatch's
// literal() only asks whether a `)` follows the `@(` anywhere in the portion, escaped or not: an
// account holding `)` is escaped to `\)`, the portion is no longer literal, and parseClass writes
// `[\^]` as `[^]` (any character). With account `a)` the glob matches `@(a)b`, where Go's
// path.Match on `@(a)[\^]` (docker_auth) matches only `@(a)^`. Passes when such a pattern is
// refused at load or matches as Go does for such a value.

test.each([
  ['@(${account}[\\^]', 'a)', ['@(a)^'], ['@(a)b']],
  ['team-+(${account}[\\^]', 'x)', ['team-+(x)^'], ['team-+(x)b']],
])('%s with account %s is refused or matches as Go does', (source, account, yes, no) => {
  let pattern;
  try {
    pattern = compilePattern(source);
  } catch {
    return; // refused at load: fine
  }
  const resolve = () => account;
  const cache = new PatternCache();
  const matches = (v: string) => pattern.match(v, resolve, cache, () => {}) !== null;
  const bound = pattern.bind(resolve, cache, () => {})!;
  expect(yes.filter((v) => !matches(v) || !bound(v))).toEqual([]);
  expect(no.filter((v) => matches(v) || bound(v))).toEqual([]);
});
