/** Escapes a value for a regular expression (no `u` flag) so that it matches only itself. */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}
