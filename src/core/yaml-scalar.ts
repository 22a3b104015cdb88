import yaml from 'js-yaml';

/**
 * A value for a YAML block regauth prints for people to paste (a path, a URL, a name it did not
 * choose): as it is when YAML reads it back unchanged, else double-quoted (JSON's string syntax
 * is YAML's). A path holding ` #` would be cut at the comment, one holding `: ` would not parse,
 * and `true`, `007` or (in the registry's YAML 1.1) `on` would not be strings.
 */
export function yamlScalar(value: string): string {
  let read: unknown;
  try {
    read = yaml.load(value);
  } catch {
    read = undefined;
  }
  if (read === value && !YAML_1_1_OTHERWISE.test(value) && !YAML_1_1_ESCAPED.test(value)) return value;
  // JSON's string syntax is YAML's, but JSON escapes only the C0 controls.
  return JSON.stringify(value).replace(
    YAML_1_1_ESCAPED_ALL,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * What must be escaped for YAML 1.1 (the registry's yaml.v2) beyond JSON's escapes: NEL and the
 * line and paragraph separators, line breaks there (inside double quotes too) where YAML 1.2
 * (js-yaml) reads characters; DEL, the other C1 controls, U+FFFE and U+FFFF, which its reader
 * refuses anywhere in a file.
 */
const YAML_1_1_ESCAPED = /[\u007f-\u009f\u2028\u2029\ufffe\uffff]/;
const YAML_1_1_ESCAPED_ALL = new RegExp(YAML_1_1_ESCAPED.source, 'g');

/**
 * What YAML 1.1 (Go's yaml.v2, which the registry reads its config with) may read as no string,
 * where YAML 1.2 (js-yaml) reads a string: booleans such as `on`, `yes`, `y`, and whatever starts
 * like a number (yaml.v2 drops `_` in numbers, `-_1` too, and takes `0X1F`, `0B11`, `+.5`): quoted, which is
 * never wrong.
 */
const YAML_1_1_OTHERWISE = /^(?:y|n|yes|no|on|off)$|^[-+]?[0-9._]/i;
