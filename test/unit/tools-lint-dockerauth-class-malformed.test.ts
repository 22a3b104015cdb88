import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText, type Config } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { lintConfig } from '../../src/tools/lint.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

// Found by a review of the docker_auth drop-in promise (docs/acl.md "Differences from docker_auth").
//
// docker_auth matches a glob with Go's path.Match (auth_server/authz/acl.go matchString, lines
// 154-159: `return err == nil && matched`). path.Match refuses a class member that is an
// unescaped `-` or `]` (Go's path/match.go getEsc: `if len(chunk) == 0 || chunk[0] == '-' ||
// chunk[0] == ']' { err = ErrBadPattern }`), so `[-_]`, `[a-z0-9-]`, `[_-]` and `[]a]` are
// malformed there and the rule never matches anything. `[[:alpha:]]` is no POSIX class there but
// the class `[:alph` followed by a literal `]`, which no repository name holds. docker_auth
// validates only /regex/ patterns at load (acl.go validatePattern, lines 40-48), so such a rule
// loads and is silently dead.
//
// minimatch reads every one of them as a working class, so regauth brings the rule to life with
// no load error and no `regauth validate` warning (docs/acl.md documents, and lint warns about,
// only a `[` never closed and a backwards range). A migrated ACL's grants change: a dead grant
// starts granting (below: `*` instead of pull), a dead deny starts denying.
//
// Passes when regauth decides as docker_auth, or refuses the pattern at load, or at least warns
// about it in `regauth validate` (as it does for a `[` never closed).

const tmp = tempDir('regauth-lint-class-');
let keys: { keyPath: string; certPath: string };
beforeAll(async () => {
  keys = await writeSigningKey(tmp.dir);
});
afterAll(() => tmp.cleanup());

/** The config with rule 0 `{name: pattern}: ["*"]` then `{}: [pull]`, or the paths of its load errors. */
function load(pattern: string): Config | string[] {
  const yaml = [
    `token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}`,
    'users: {alice: {}}',
    'acl:',
    `  - match: {name: ${JSON.stringify(pattern)}}`,
    '    actions: ["*"]',
    '  - match: {}',
    '    actions: [pull]',
  ].join('\n');
  try {
    return loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.path);
    throw err;
  }
}

test.each<[string, string]>([
  ['team[-_]*', 'team-app'],
  ['ci-[a-z0-9-]*', 'ci-x'],
  ['build[_-]*', 'build-x'],
  ['x[]a]', 'xa'],
  ['[[:alpha:]]*', 'abc'],
])('the glob %s, which path.Match never matches, does not silently grant %s', (pattern, name) => {
  const config = load(pattern);
  if (Array.isArray(config)) {
    expect(config).toContain('acl[0].match.name');
    return;
  }
  if (lintConfig(config).some((w) => w.path === 'acl[0].match.name')) return;
  // docker_auth: rule 0 never matches, rule 1 decides: pull only.
  const decision = config.acl.authorize({
    account: 'alice',
    type: 'repository',
    name,
    service: 'registry',
    ip: null,
    labels: {},
    actions: ['pull', 'push'],
  });
  expect(decision).toEqual({ granted: ['pull'], rule: 1 });
});
