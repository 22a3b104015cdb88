/**
 * Found by a review of 8032816: `<<:` given twice in one mapping is refused whatever the merges bring.
 * yaml.v2 applies both in order (mappingStruct: each `<<` -> d.merge); js-yaml keeps the earlier
 * one's keys. When the two bring disjoint keys both read the same rule, yet regauth refuses a
 * valid docker_auth config (a common style: one anchor for who, one for what).
 */
import { expect, test } from 'vitest';
import { parseYaml } from '../../src/config/yaml.js';

test('two <<: bringing disjoint keys are read alike by docker_auth and regauth, so not refused', () => {
  const yaml =
    `acl:\n` +
    `  - &devs {match: {account: "/^dev-.+$/"}}\n` +
    `  - &push {actions: [pull, push]}\n` +
    `  - <<: *devs\n` +
    `    <<: *push\n`;
  let value: unknown;
  expect(() => {
    value = parseYaml(yaml, 'config.yml').value;
  }).not.toThrow();
  expect((value as { acl: unknown[] }).acl[2]).toEqual({
    match: { account: '/^dev-.+$/' },
    actions: ['pull', 'push'],
  });
});
