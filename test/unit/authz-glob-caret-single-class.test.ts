import { expect, test } from 'vitest';
import { namePatternRule } from '../helpers/name-pattern.js';

// Found by a review of e911d7a (caretFirst). caretFirst exempts a class of one escaped character (`[\^]`)
// because "minimatch writes it as that character". minimatch does so only in literal()
// (node_modules/minimatch/dist/esm/index.js), i.e. when the whole path portion has no other
// magic. In `x[\^]*` the portion is not literal, so the class goes through parseClass, which
// emits the JS class `[^]` (with the u flag: any character). minimatch then matches `xa`, `xb`,
// ... where Go's path.Match (docker_auth) matches only `x^` followed by anything.
// Passes when regauth refuses the pattern or grants as Go does.
const { loadUnlessRefused: load, decide } = namePatternRule('regauth-review-acl5-caret-single-');

for (const [pattern, names, goGrants] of [
  ['x[\\^]*', ['x^', 'x^a', 'xa', 'xab'], ['x^', 'x^a']],
  ['x[\\^]?', ['x^b', 'xab'], ['x^b']],
  ['{a,b}[\\^]y*', ['a^y', 'acy'], ['a^y']],
] as const) {
  test(`${pattern} (a one-character class [\\^] beside other magic) grants as Go does or is refused`, () => {
    const config = load(pattern);
    if (!config) return;
    const granted = (name: string) => decide(config, name).granted.length > 0;
    expect(names.filter(granted)).toEqual(goGrants);
  });
}
