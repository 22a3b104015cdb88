import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText, type Config } from '../../src/config/load.js';
import { lintConfig } from '../../src/tools/lint.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

// Found by a review of b5c655e (escapes inside glob classes), by running every pattern of up to 5
// characters over a-z - ] [ \ ^ ! / through Go's path.Match, minimatch and the lint.
// In `[\^a]` the `^` is escaped: a member, not a negation. Go's path.Match (and a shell) read the
// members `^` and `a`. The class parser of the matcher minimatch uses here
// (@isaacs/nonrecursive-glob-match, dist/esm/parse-class.js) keeps the members `^`, `a` but its
// braceEscape escapes only [ ] \ -, so it emits the JS class `[^a]`: NEGATED. `team-[\^a]`
// matches team-b, team-c, ... and not team-a, the opposite of what docker_auth granted, and
// neither loading nor `regauth validate` says a word. (`[\^]` alone is taken as the literal `^`
// and `[\!a]` is read correctly; `[\^-z]` is broken the same way.)
// Passes when regauth matches as Go does, refuses the pattern, or the lint warns of it.
const tmp = tempDir('regauth-review-ext2-caret-');
let keys: { keyPath: string; certPath: string };
beforeAll(async () => {
  keys = await writeSigningKey(tmp.dir);
});
afterAll(() => tmp.cleanup());

function load(pattern: string): Config | undefined {
  const yaml = [
    `token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}`,
    'users: {alice: {}}',
    'acl:',
    `  - match: {name: ${JSON.stringify(pattern)}}`,
    '    actions: [pull]',
  ].join('\n');
  try {
    return loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });
  } catch {
    return undefined; // refused at load: fine
  }
}

test('team-[\\^a] (an escaped caret, a member in Go) does not grant team-b unwarned', () => {
  const config = load('team-[\\^a]');
  if (!config) return;
  if (lintConfig(config).some((w) => w.path === 'acl[0].match.name')) return;
  const decide = (name: string) =>
    config.acl.authorize({
      account: 'alice',
      type: 'repository',
      name,
      service: 'registry',
      ip: null,
      labels: {},
      actions: ['pull'],
    });
  // docker_auth (Go's path.Match): team-a matches, team-b does not.
  expect([decide('team-a').granted, decide('team-b').granted]).toEqual([['pull'], []]);
});
