/**
 * Quotes a word for a POSIX shell when it holds anything but safe characters: the commands
 * regauth prints for people to paste (docker login, docker pull, a file to rewrite) hold names
 * and paths it did not choose.
 */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
