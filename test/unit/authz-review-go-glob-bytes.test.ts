import { expect, test } from 'vitest';
import { goGlob } from '../../src/authz/go-glob.js';

// Review of fa99bc0. Go's path.Match (src/path/match.go) skips a star's characters a BYTE at a
// time (`for i := 0; i < len(name) && name[i] != '/'; i++ { matchChunk(chunk, name[i+1:]) }`),
// and `?` or a class on a byte that does not start a rune takes that one byte (DecodeRuneInString
// gives RuneError, 1). So a chunk after a star may start inside a multi-byte character: `*??`
// matches the three bytes of `€` (E2 82 AC) by skipping one byte and taking two. Checked with
// go1.19's path.Match: Match("*??", "€") == true, Match("**??", "€") == true,
// Match("*??", "😀") == true, Match("*???", "😀") == true, Match("*??", "é") == false.
// go-glob.ts works on code points (`[...value]`) and skips whole characters, so it says false.

test.each([
  ['*??', '€', true],
  ['**??', '€', true],
  ['*??', '😀', true],
  ['*???', '😀', true],
  ['*?', '€', true],
  ['*??', 'é', false],
])('goGlob(%j)(%j) is %s, as Go path.Match', (pattern, value, expected) => {
  expect(goGlob(pattern)(value)).toBe(expected);
});
