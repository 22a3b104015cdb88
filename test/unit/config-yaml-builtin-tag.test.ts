/**
 * Found by a review of 89978e9 ("config: a YAML syntax error no longer quotes a tag or alias it read"):
 * syntaxReason (src/config/yaml.ts) answers every `unknown tag` with "a value that starts with `!`
 * is read as a YAML tag: quote it". That is the right advice for a pasted password; it is the
 * wrong one for a YAML 1.1 built-in tag that docker_auth's yaml.v2 reads and regauth's YAML 1.2
 * core schema does not (`!!binary`, `!!timestamp`, `!!set`): quoted, a label `!!binary ZGV2cw==`
 * becomes the text "!!binary ZGV2cw==", another value than docker_auth's "devs", with no error
 * left to say so. Such a tag names no secret (it is one of a fixed set), yet the message
 * no longer says which it is (before the commit: `unknown tag !<tag:yaml.org,2002:binary>`).
 */
import { describe, expect, test } from 'vitest';
import { useConfigText } from '../helpers/config.js';

const text = useConfigText('regauth-builtin-tag-');

describe('a YAML 1.1 built-in tag regauth does not read', () => {
  test.each([
    ['!!binary', 'users:\n  alice:\n    labels: {group: !!binary ZGV2cw==}\nacl: []\n'],
    ['!!timestamp', 'users:\n  alice:\n    labels: {since: !!timestamp 2001-12-14}\nacl: []\n'],
  ])('%s: the error names the tag and does not ask to quote the value', (tag, yaml) => {
    const message = text.errors(yaml).join('\n');
    expect(message).toMatch(/YAML syntax error/);
    expect(message, 'the advice would make the value the tag text').not.toMatch(/quote it/);
    expect(message).toContain(tag.slice(2));
  });
});
