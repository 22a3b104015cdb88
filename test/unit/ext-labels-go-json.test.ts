import { describe, expect, test } from 'vitest';
import { parseLabels } from '../../src/authn/ext.js';

// Found by a review of ext_auth and ext_authz: docs/backends/ext.md says docker_auth's ext_auth scripts "run unchanged".
// docker_auth reads the allow answer with Go's encoding/json into
//   struct { Labels api.Labels `json:"labels,omitempty"` }
// and encoding/json matches object keys to fields case-insensitively ("preferring an exact match
// but also accepting a case-insensitive match"). A script printing {"Labels": {...}} (the casing
// ext_authz's own stdin uses) gets its labels in docker_auth; regauth silently reads it as "no
// labels" (the key is ignored), so label-based ACL rules stop matching, with nothing logged:
// exactly the "meant to say something we cannot read, taken as no labels" case parseLabels'
// comment says must not happen.
describe('ext_auth labels are read as docker_auth (Go encoding/json) reads them', () => {
  test.each(['Labels', 'LABELS', 'lAbElS'])('the key %j carries the labels', (key) => {
    expect(parseLabels(`{"${key}": {"group": ["devs"]}}`, 'ext_auth')).toEqual({ group: ['devs'] });
  });

  test('a top-level null is "no labels" (json.Unmarshal of null into a struct is a no-op), not a 503', () => {
    expect(parseLabels('null', 'ext_auth')).toEqual({});
  });

  test('a label whose values are null has none, as a nil slice in Go', () => {
    expect(parseLabels('{"labels": {"group": null, "team": ["a"]}}', 'ext_auth')).toEqual({
      group: [],
      team: ['a'],
    });
  });

  test('anything but an object under the key is still refused', () => {
    expect(() => parseLabels('{"Labels": ["devs"]}', 'ext_auth')).toThrow(/stdout must be/);
    expect(() => parseLabels('[]', 'ext_auth')).toThrow(/stdout must be/);
  });
});
