import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseLabels } from '../../src/authn/ext.js';

// Found by a review of 80c3b67 ("Read ext_auth labels as docker_auth's Go JSON decoder does").
// docker_auth (auth_server/authn/ext_auth.go) does json.Unmarshal(output, &ExtAuthResponse{}),
// whose one field is `Labels api.Labels \`json:"labels,omitempty"\`` (map[string][]string).
// Go's encoding/json, checked with a Go program on each input below:
// - matches a key to the field by Unicode simple case folding, so "labelſ" (U+017F LATIN SMALL
//   LETTER LONG S folds to s) is the field; `key.toLowerCase() !== 'labels'` misses it;
// - handles every occurrence of a matching key in document order, decoding into the same map:
//   a repeated "labels" MERGES (an existing map keeps its entries), while JSON.parse keeps only the
//   last duplicate (at the first one's position);
// - decodes a null under a matching key by setting the map to nil: the labels decoded before are
//   dropped (regauth skips the null and keeps them: labels docker_auth never gave);
// - decodes a null element of a []string as "" (regauth refuses the whole answer: 503).
// Each case below is a script answer that gives different labels (or a 503) after the migration.
describe('ext_auth labels read as Go encoding/json reads them (review of 80c3b67)', () => {
  test('"labelſ" (long s, folds to "s" in Go) carries the labels', () => {
    // Go: map[g:[x]]
    expect(parseLabels('{"labelſ": {"g": ["x"]}}', 'ext_auth')).toEqual({ g: ['x'] });
  });

  test('the key "labels" twice: Go merges both objects into the one map', () => {
    // Go: map[a:[1] b:[2]]
    expect(parseLabels('{"labels": {"a": ["1"]}, "labels": {"b": ["2"]}}', 'ext_auth')).toEqual({
      a: ['1'],
      b: ['2'],
    });
  });

  test('a later null under a matching key clears the labels decoded before it', () => {
    // Go: map[] (nil)
    expect(parseLabels('{"labels": {"a": ["1"]}, "Labels": null}', 'ext_auth')).toEqual({});
  });

  test('keys are taken in document order: the last occurrence wins', () => {
    // Go: map[a:[3]]
    expect(
      parseLabels('{"labels": {"a": ["1"]}, "LABELS": {"a": ["2"]}, "labels": {"a": ["3"]}}', 'ext_auth'),
    ).toEqual({ a: ['3'] });
  });

  test('a null among a label\'s values is "" in Go, not an unreadable answer', () => {
    // Go: map[a:[1  2]]
    expect(parseLabels('{"labels": {"a": ["1", null, "2"]}}', 'ext_auth')).toEqual({ a: ['1', '', '2'] });
  });
});

test('any answer JSON.stringify writes, spaced or not, with other keys around, reads as its labels', () => {
  const labels = fc.dictionary(fc.string(), fc.array(fc.string(), { maxLength: 3 }), { maxKeys: 4 });
  fc.assert(
    fc.property(
      labels,
      fc.dictionary(
        fc.string().filter((k) => k.toLowerCase() !== 'labels'),
        fc.jsonValue(),
        { maxKeys: 3 },
      ),
      fc.constantFrom(undefined, 2, '\t'),
      (wanted, others, space) => {
        const answer = JSON.stringify({ ...others, labels: wanted }, null, space);
        expect(parseLabels(answer, 'ext_auth')).toEqual(wanted);
      },
    ),
    { numRuns: 300 },
  );
});
