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
