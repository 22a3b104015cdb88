/**
 * Found by a review of 402d52c (src/core/yaml-scalar.ts, YAML_1_1_OTHERWISE = /^(?:y|n|…)$|^[-+]?[0-9.]/i).
 *
 * yaml.v2 (the registry's reader) resolves a plain scalar starting with a sign ('S' hint) by
 * first deleting every '_' (resolve.go: plain := strings.Replace(in, "_", "", -1)) and then
 * strconv.ParseInt(plain, 0, 64). So `-_1`, `+_1` and `-_0x1F` are the ints -1, 1 and -31 there;
 * js-yaml reads them as strings, and the regex wants a digit or '.' right after the sign, so they
 * are printed unquoted: a service so named is an int in the registry's auth.token parameters,
 * the same failure at start the commit fixed for `1_000`.
 */
import { expect, test } from 'vitest';
import { yamlScalar } from '../../src/core/yaml-scalar.js';

test.each(['-_1', '+_1', '-_0x1F', '+__5'])('%s (an int in yaml.v2) is quoted', (value) => {
  expect(yamlScalar(value)).toBe(JSON.stringify(value));
});
