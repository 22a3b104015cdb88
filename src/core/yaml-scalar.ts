import yaml from 'js-yaml';

/**
 * A value for a YAML block regauth prints for people to paste (a path, a URL, a name it did not
 * choose): as it is when YAML reads it back unchanged, else double-quoted (JSON's string syntax
 * is YAML's). A path holding ` #` would be cut at the comment, one holding `: ` would not parse,
 * and `true` or `007` would not be strings.
 */
export function yamlScalar(value: string): string {
  let read: unknown;
  try {
    read = yaml.load(value);
  } catch {
    read = undefined;
  }
  return read === value ? value : JSON.stringify(value);
}
