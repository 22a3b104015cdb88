import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText, type Config } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { lintConfig } from '../../src/tools/lint.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

// Found by a review of the docker_auth drop-in promise (docs/acl.md "Differences from docker_auth").
//
// docker_auth matches a glob with Go's path.Match (auth_server/authz/acl.go matchString, lines
// 154-159), which reads a character class and an escape over the raw pattern: `[^/]` is "any
// character but /" and `\/` an escaped `/`. So `a[^/]c` matches `abc`, `releases/[^/]*`
// matches `releases/app`, and `team\/*` matches `team/app` there.
//
// minimatch splits the pattern at every `/` before it reads classes and escapes (`a[^/]c`
// becomes the segments `a[^` and `]c`), so each of these globs matches no name at all in regauth.
// It loads them with no error and `regauth validate` says nothing: the rule is silently dead.
// docs/acl.md only says "`[^/]` never matches `/` here", which reads as if the class still took
// every other character. A dead grant loses access; a dead deny lets a later, broader rule grant.
//
// Passes when regauth decides as docker_auth, or refuses the pattern at load, or at least warns
// about it in `regauth validate`.

const tmp = tempDir('regauth-lint-slash-');
let keys: { keyPath: string; certPath: string };
beforeAll(async () => {
  keys = await writeSigningKey(tmp.dir);
});
afterAll(() => tmp.cleanup());

/** The config with `rules` as its ACL, or the paths of its load errors. */
function load(rules: string[]): Config | string[] {
  const yaml = [
    `token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}`,
    'users: {ci: {}}',
    'acl:',
    ...rules,
  ].join('\n');
  try {
    return loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.path);
    throw err;
  }
}

function decide(config: Config, name: string, actions: string[]) {
  return config.acl.authorize({
    account: 'ci',
    type: 'repository',
    name,
    service: 'registry',
    ip: null,
    labels: {},
    actions,
  });
}

/** Whether regauth refused or warned about rule 0's name pattern (then the test passes). */
function flagged(config: Config | string[]): config is string[] {
  if (Array.isArray(config)) {
    expect(config).toContain('acl[0].match.name');
    return true;
  }
  return lintConfig(config).some((w) => w.path === 'acl[0].match.name');
}

test.each<[string, string]>([
  ['a[^/]c', 'abc'],
  ['team/[^/]*', 'team/app'],
  ['team/[a-z/]pp', 'team/app'],
  ['team\\/*', 'team/app'],
])('the glob %s grants %s, as path.Match matches it', (pattern, name) => {
  const config = load([`  - match: {name: ${JSON.stringify(pattern)}}`, '    actions: [pull]']);
  if (flagged(config)) return;
  expect(decide(config, name, ['pull'])).toEqual({ granted: ['pull'], rule: 0 });
});

test('a rule limiting CI with [^/] still limits it; the broader grant after it does not apply', () => {
  // docker_auth: rule 0 matches releases/app and grants pull only; rule 1 is never reached.
  // regauth: rule 0 never matches, so rule 1 grants push on the release repository.
  const config = load([
    '  - match: {account: ci, name: "releases/[^/]*"}',
    '    actions: [pull]',
    '  - match: {account: ci}',
    '    actions: ["*"]',
  ]);
  if (flagged(config)) return;
  expect(decide(config, 'releases/app', ['pull', 'push'])).toEqual({ granted: ['pull'], rule: 0 });
});
