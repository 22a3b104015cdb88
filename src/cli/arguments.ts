import { InvalidArgumentError } from 'commander';

/**
 * A directory option's value: an empty one (a script's unset variable, `--dir "$KEYS"`) is
 * refused, not read as the working directory, where `keys init` would write the private key and
 * `serve` the development one.
 */
export function directory(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('empty; give a directory');
  return value;
}
