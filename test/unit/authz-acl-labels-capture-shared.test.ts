/**
 * Found by a review of bff1ead ("Warn of ACL captures docker_auth never fills").
 *
 * capturedFields (src/authz/acl.ts) now warns of every capture in a labels pattern: "is a capture
 * in a labels pattern, which docker_auth never fills: its rule never matched there, and here it
 * matches"; docs/acl.md says docker_auth reads captures in labels as literal text. docker_auth
 * (auth_server/authz/acl.go MatchConditions.Matches) builds one replacement list for the whole
 * rule: it scans the account, type, name and service *patterns* for `${field:N}`, resolves each
 * one found, and then applies that list to every pattern, labels included
 * (`matchLabels(mc.Labels, ai.Labels, vars)`). A capture in a labels pattern that the rule also
 * uses in, say, its name pattern is filled there too, and the rule matched in docker_auth as it
 * does here. regauth validate (exit 1) and serve's log (081d0f4) warn of a rule docker_auth ran.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { lintConfig } from '../../src/tools/lint.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-labels-capture-');
let keys: { keyPath: string; certPath: string };
beforeAll(async () => {
  keys = await writeSigningKey(tmp.dir);
});
afterAll(() => tmp.cleanup());

test('a labels capture the name pattern uses too (docker_auth fills it) is not warned of', () => {
  const yaml = [
    `token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}`,
    'users:',
    '  alice@example.com: {labels: {team: [alice]}}',
    'acl:',
    // Each user pushes under their own name, if their team label says the same.
    '  - match:',
    "      account: '/^([a-z]+)@example\\.com$/'",
    "      name: '${account:1}/*'",
    "      labels: {team: '${account:1}'}",
    '    actions: [pull, push]',
  ].join('\n');
  const config = loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });
  expect(
    config.acl.authorize({
      account: 'alice@example.com',
      type: 'repository',
      name: 'alice/app',
      service: 'registry',
      ip: null,
      labels: { team: ['alice'] },
      actions: ['pull', 'push'],
    }),
  ).toEqual({ granted: ['pull', 'push'], rule: 0 });
  expect(lintConfig(config).filter((w) => w.path.startsWith('acl[0]'))).toEqual([]);
});
