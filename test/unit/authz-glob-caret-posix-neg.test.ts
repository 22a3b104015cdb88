import { expect, test } from 'vitest';
import { namePatternRule } from '../helpers/name-pattern.js';

// Found by a review of e911d7a (classMembers). parseClass puts the negated POSIX classes [:graph:] and
// [:print:] in a separate `negs` list, not in `ranges`, so the first member written into the
// regex class `[...]` is the first non-negated member. classMembers counts `[:print:]` as the
// first member, so in `x[[:print:]\^a]` it misses that minimatch writes `^([^a]|[^\p{C}])`:
// the `^` negates, and the class matches every character (control characters too) instead of
// printable ones, `^` and `a`. Passes when regauth refuses it (as it refuses `x[\^a]`) or
// does not grant `x` followed by a control character.
const { loadUnlessRefused: load, decide } = namePatternRule('regauth-review-acl5-caret-posix-');

for (const pattern of ['x[[:print:]\\^a]', 'x[[:graph:]^a]']) {
  test(`${pattern} (a ^ written first after a negated POSIX class) is refused or not negated`, () => {
    const config = load(pattern);
    if (!config) return;
    const granted = (name: string) => decide(config, name).granted.length > 0;
    expect(['x^', 'xa', 'x\u0007'].filter(granted)).toEqual(['x^', 'xa']);
  });
}
