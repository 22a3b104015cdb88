/**
 * An account name as directories compare it (LDAP's caseIgnoreMatch): Unicode compatibility
 * forms, case, outer and repeated spaces ignored. `ALICE ` and `alice` fold to the same name.
 */
export function foldAccountName(name: string): string {
  return name.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}
