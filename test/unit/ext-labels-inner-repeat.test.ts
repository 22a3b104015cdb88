import { expect, test } from 'vitest';
import { parseLabels } from '../../src/authn/ext.js';

// Found by a review of f200068 ("Read ext_auth labels key by key in the order written, as Go does"). The top
// level is now read member by member, but each "labels" object is still decoded with JSON.parse,
// which keeps only the last of a repeated label name. Go's encoding/json (docker_auth's
// json.Unmarshal into map[string][]string) decodes every member in order: a value it cannot
// decode, even one a later repeat overwrites, makes Unmarshal return an error, and docker_auth's
// Authenticate fails the login. Checked with Go 1.19:
//   {"labels": {"a": [1], "a": ["x"]}}           -> json: cannot unmarshal number ... (error)
//   {"labels": {"a": {"b":1}, "a": null}}        -> json: cannot unmarshal object ... (error)
// regauth drops the unreadable first value and authenticates with labels {a: ["x"]} / {a: []},
// against its own rule "Anything else is an error: a command that meant to say something we
// cannot read must not be taken as 'no labels'".
// Passes when such an answer is refused (503), as an unreadable answer is.
test.each([['{"labels": {"a": [1], "a": ["x"]}}'], ['{"labels": {"a": {"b": 1}, "a": null}}']])(
  'an unreadable label value overwritten by a repeat of its name is still an error: %s',
  (answer) => {
    expect(() => parseLabels(answer, 'ext_auth')).toThrow();
  },
);
