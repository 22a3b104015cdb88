/**
 * yamlScalar quotes what the blocks regauth prints would not read back as the same string. The
 * registry reads its config with Go's yaml.v2 (YAML 1.1), where `on`, `yes`, `y` and `off` are
 * booleans (found by a review: a service named `on` would not start the registry); js-yaml reads
 * YAML 1.2, where they are strings.
 */
import yaml from 'js-yaml';
import { describe, expect, test } from 'vitest';
import { yamlScalar } from '../../src/core/yaml-scalar.js';

describe('yamlScalar', () => {
  test.each(['on', 'On', 'OFF', 'yes', 'No', 'y', 'N', 'true', 'null', '~', '12:30', '0x1F', '1e3'])(
    '%j is quoted, and reads back as itself',
    (value) => {
      const written = yamlScalar(value);
      expect(written).toBe(JSON.stringify(value));
      expect(yaml.load(`v: ${written}`)).toEqual({ v: value });
    },
  );

  test.each([
    'registry.example.com',
    '/etc/regauth/keys/token.pem',
    'https://auth.example.com/auth',
    'online',
  ])('%j stays plain', (value) => expect(yamlScalar(value)).toBe(value));
});

/**
 * Found by a review of the config: YAML 1.1 (the registry's yaml.v2) reads NEL (U+0085) and the
 * line and paragraph separators (U+2028, U+2029) as line breaks, inside double quotes too, where
 * YAML 1.2 (js-yaml) reads them as characters. A value holding one must be quoted with the
 * character escaped, or the registry reads another value (or a broken block).
 */
describe('yamlScalar and the line breaks only YAML 1.1 has', () => {
  test.each(['a\u0085b', 'a\u2028b', 'a\u2029b'])('%j is quoted with the break escaped', (value) => {
    const written = yamlScalar(value);
    expect(written).toMatch(/^"[^\u0085\u2028\u2029]*"$/);
    expect(yaml.load(`v: ${written}`)).toEqual({ v: value });
  });
});

/**
 * Found by a review of the change above: yaml.v2's reader refuses, anywhere in a file and inside
 * double quotes too, every character outside tab, LF, CR, U+0020 to U+007E, NEL, U+00A0 to
 * U+D7FF, U+E000 to U+FFFD and the astral planes ("control characters are not allowed"): DEL, the
 * C1 controls but NEL, U+FFFE and U+FFFF. JSON.stringify escapes only the C0 controls, so such a
 * value was printed raw and the registry refused the whole file.
 */
const YAML_V2_READABLE = /^[\t\n\r\x20-\x7e\u0085\u00a0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u;

describe('yamlScalar and the characters YAML 1.1 (yaml.v2) refuses raw', () => {
  test.each(['/keys/a\u007fb', '/keys/a\u0080b', '/keys/a\u009bb', 'registry\u009f', 'a\ufffeb', 'a\uffffb'])(
    '%j is printed with the character escaped',
    (value) => {
      const written = yamlScalar(value);
      expect(written, 'a character yaml.v2 refuses is printed raw').toMatch(YAML_V2_READABLE);
      expect(yaml.load(`v: ${written}`)).toEqual({ v: value });
    },
  );
});
