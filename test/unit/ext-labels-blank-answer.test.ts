import { expect, test } from 'vitest';
import { parseLabels } from '../../src/authn/ext.js';

// Found by a review of c7455f4. docker_auth (auth_server/authn/ext_auth.go) on exit 0:
//   if len(output) > 0 { if err = json.Unmarshal(output, &resp); err != nil { return false, nil, err } }
// An answer of JSON white space only ("\n" from a bare `echo`, "  ") is not empty, and Go's
// json.Unmarshal fails on it ("unexpected end of JSON input", checked with Go 1.19): docker_auth
// fails the login. parseLabels trims it to "" and authenticates with no labels, the same
// divergence c7455f4 fixed for a lone BOM. Only a truly empty stdout is "no labels".
// (Contradicts the last assertion of test/unit/ext-labels-json-space.test.ts.)
test.each([['\n'], [' '], ['\r\n\t ']])(
  'an answer of white space only is unreadable, as in Go: %j',
  (answer) => {
    expect(() => parseLabels(answer, 'ext_auth')).toThrow(/stdout/);
  },
);

test('an empty answer is still no labels', () => {
  expect(parseLabels('', 'ext_auth')).toEqual({});
});
