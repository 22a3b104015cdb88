import { expect, test } from 'vitest';
import { lintConfig } from '../../src/tools/lint.js';
import { namePatternRule } from '../helpers/name-pattern.js';

// Found by a review of 6c6e7b4 (caretFirst). minimatch drops an out-of-order range (`z-a`) from a class
// without a trace, so in `[z-a\^b]` the escaped ^ becomes the first member it writes and it
// emits the JS class [^b] (negated): x[z-a\^b] matches xc, xa, x-, ... Go's path.Match reads
// the range z-a as matching nothing and the member ^: only x^ and xb. caretFirst looks only at
// the member written first (`z`), so the pattern loads, validate says nothing, and it grants xc.
// Same for x[b-a\^] (minimatch's [^]: any character). lint warns of those only that the range
// "is empty, so it matches nothing", which hides that the rule grants nearly every name; and
// lint compares UTF-16 units, so x[😀-ａ\^b] (0x1F600 > 0xFF41 as code points, as minimatch and
// Go compare them) loads with no warning at all and grants xc. Passes when regauth refuses the
// pattern, grants as Go does, or warns without claiming the rule matches nothing.
const { loadUnlessRefused: load, decide } = namePatternRule('regauth-review-acl4-caret-range-');

for (const [pattern, goGrants] of [
  ['x[z-a\\^b]', ['x^', 'xb']],
  ['x[b-a\\^]', ['x^']],
  ['x[\u{1F600}-\uFF41\\^b]', ['x^', 'xb']],
] as const) {
  test(`${pattern} (an escaped caret first once minimatch drops a reversed range) grants as Go does or is refused`, () => {
    const config = load(pattern);
    if (!config) return;
    const warned = lintConfig(config).filter((w) => w.path === 'acl[0].match.name');
    if (warned.length > 0 && warned.every((w) => !w.message.includes('matches nothing'))) return;
    const granted = (name: string) => decide(config, name).granted.length > 0;
    const names = ['x^', 'xb', 'xc', 'xa'];
    expect(names.filter(granted)).toEqual(goGrants);
  });
}
