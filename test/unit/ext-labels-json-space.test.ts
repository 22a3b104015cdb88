import { expect, test } from 'vitest';
import { parseLabels } from '../../src/authn/ext.js';

// Found by a review of f200068: the answer was trimmed with String#trim, which also drops a BOM
// (U+FEFF) and a no-break space. Go's decoder (docker_auth) reads only space, tab, CR and LF as
// JSON's white space and fails a login whose answer holds anything else: here an answer of a
// lone BOM authenticated with no labels, and a BOM before the labels was read past.

test.each([['\uFEFF'], ['\u00a0'], ['\uFEFF{"labels": {"a": ["x"]}}'], ['{"labels": {"a": ["x"]}}\u00a0']])(
  'an answer with white space JSON does not know is unreadable: %j',
  (answer) => {
    expect(() => parseLabels(answer, 'ext_auth')).toThrow(/stdout/);
  },
);

test('JSON white space around the answer is still read', () => {
  expect(parseLabels(' \t\r\n{"labels": {"a": ["x"]}}\n', 'ext_auth')).toEqual({ a: ['x'] });
});
