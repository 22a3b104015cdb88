/**
 * Found by a review of cd9ea50 ("Quote values the registry's YAML 1.1 would read as no string").
 *
 * yamlScalar leaves plain what js-yaml reads back as the same string, unless YAML_1_1_OTHERWISE
 * (y/n/yes/no/on/off, "base-60") matches. Go's yaml.v2 (the registry's, distribution go.mod
 * gopkg.in/yaml.v2) resolves a plain scalar starting with a digit or sign by first dropping every
 * `_` and then trying strconv.ParseInt(plain, 0, 64), ParseUint, its float regexp
 * `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` and `0b` (yaml.v2 resolve.go). js-yaml
 * reads these as strings, so they are printed plain, and the registry gets a number:
 * `1_000` (1000), `0X1F` and `0x_1f` (31: base 0 takes an upper-case prefix), `0O17` (15), `0B11`
 * (3), `1__2` (12), `+.5` (0.5), `1_000.5`. auth.token's options are a map[string]interface{}
 * there, and a service that is no string stops the registry at start ("token auth requires a
 * valid option string: service", registry/auth/token/accesscontroller.go). (Base-60 is the one
 * thing the regexp names that yaml.v2 does *not* do: "Base 60 floats ... are purposefully
 * unsupported here"; quoting them costs nothing.)
 */
import { expect, test } from 'vitest';
import { yamlScalar } from '../../src/core/yaml-scalar.js';

test.each(['1_000', '0X1F', '0x_1f', '0O17', '0B11', '1__2', '+.5', '1_000.5'])(
  '%j, a number to yaml.v2, is quoted',
  (value) => {
    expect(yamlScalar(value)).toBe(JSON.stringify(value));
  },
);
