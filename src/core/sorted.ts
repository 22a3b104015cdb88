/**
 * `values` sorted as `Array.prototype.sort` sorts strings (by UTF-16 code units), without
 * duplicates. A list already so is returned as it is, without sorting: the token path sorts a
 * scope's few actions when it parses them and again when the ACL grants them, and V8's sort
 * allocates a work area on every call. Pass an array the caller owns.
 */
export function sortedUnique(values: string[]): string[] {
  for (let i = 1; i < values.length; i++) {
    if (!(values[i - 1]! < values[i]!)) return [...new Set(values)].sort();
  }
  return values;
}
