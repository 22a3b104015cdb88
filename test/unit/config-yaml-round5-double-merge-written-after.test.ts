/**
 * Found by a review of 06f9aae: two `<<:` in one mapping are refused whenever both bring the same key, even
 * when the mapping writes that key itself after them. yaml.v2 (mappingStruct) applies the two
 * merges and then the written key, which wins; regauth's rebuilt mapping keeps the written key
 * too. Both read the rule alike, yet regauth refuses it, saying "docker_auth lets the later merge
 * win" — no merge wins there. A common shape: anchored rules each carry a `comment:`, and the
 * rule combining them writes its own.
 */
import { expect, test } from 'vitest';
import { parseYaml } from '../../src/config/yaml.js';

test('two <<: bringing a key the mapping writes after them are read alike, so not refused', () => {
  const yaml =
    `acl:\n` +
    `  - &devs {match: {account: "/^dev-.+$/"}, comment: "developers"}\n` +
    `  - &push {actions: [pull, push], comment: "push access"}\n` +
    `  - <<: *devs\n` +
    `    <<: *push\n` +
    `    comment: "developers push"\n`;
  let value: unknown;
  expect(() => {
    value = parseYaml(yaml, 'config.yml').value;
  }).not.toThrow();
  // docker_auth (yaml.v2): match from *devs, actions from *push, comment as written.
  expect((value as { acl: unknown[] }).acl[2]).toEqual({
    match: { account: '/^dev-.+$/' },
    actions: ['pull', 'push'],
    comment: 'developers push',
  });
});
