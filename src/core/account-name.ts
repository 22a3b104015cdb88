/**
 * An account name as directories compare it (LDAP's caseIgnoreMatch, as OpenLDAP implements it):
 * Unicode compatibility forms (NFKC: full-width letters, the Kelvin sign, a no-break space),
 * case, outer and repeated spaces ignored. `ALICE `, `ａｌｉｃｅ` and `alİce` fold to `alice`.
 *
 * Case is folded one character at a time with the simple lower-case mapping, as the directory
 * does: `İ` (U+0130) is `i` (JavaScript's own toLowerCase would give `i` plus a combining dot,
 * which the directory does not match), and `Σ` is `σ` wherever it stands. The dotless `ı`
 * (U+0131) stays itself: the directory does not match it to `i` either.
 */
export function foldAccountName(name: string): string {
  let lower = '';
  for (const ch of name.normalize('NFKC')) lower += ch === '\u0130' ? 'i' : ch.toLowerCase();
  return lower.normalize('NFKC').trim().replace(/\s+/g, ' ');
}
