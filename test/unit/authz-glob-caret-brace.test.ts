import { expect, test } from 'vitest';
import { lintConfig } from '../../src/tools/lint.js';
import { namePatternRule } from '../helpers/name-pattern.js';

// Found by a review of 36c0504 ("Refuse a glob class that starts with an escaped ^"). CARET_FIRST is tested on
// the pattern as written, but minimatch expands braces before it reads classes: `x[{\^,b}a]`
// becomes the alternatives `x[\^a]` and `x[ba]`, and the first is the very class the commit
// refuses (minimatch emits the JS class [^a]: negated). The pattern loads, `validate` says nothing,
// and it grants xc, xz, x^ ... (everything but "xa" through the negated alternative, and "xa"
// through the other). Neither reading grants xc: Go's path.Match reads one class of the members
// { ^ , b } a; regauth's documented reading (braces expanded) gives [\^a] = {^, a} and [ba].
// Passes when regauth refuses the pattern, warns of it, or does not grant xc.
const { loadUnlessRefused: load, decide } = namePatternRule('regauth-review-acl3-caret-brace-');

test('x[{\\^,b}a] (an escaped caret first in a class after brace expansion) does not grant xc unwarned', () => {
  const config = load('x[{\\^,b}a]');
  if (!config) return;
  if (lintConfig(config).some((w) => w.path === 'acl[0].match.name')) return;
  const granted = (name: string) => decide(config, name).granted;
  expect(granted('xa')).toEqual(['pull']);
  expect(granted('xc')).toEqual([]);
});
