/**
 * Found by a review of the ACL against docker_auth. In Go's path.Match (docker_auth's globs) only
 * `*` and `?` refuse a `/`: a class checks the next character against its members, `/` included,
 * so `[^_]` and a range spanning `/` (`[ -~]`, `[.-9]`) take one there. Here a glob is matched one
 * path segment at a time and no class takes a `/`: a docker_auth deny `secret[^_]*` no longer
 * covers `secret/app`, and a later rule grants it. `regauth validate` (and serve's log, at every
 * start and reload) says so.
 */
import { expect, test } from 'vitest';
import { lintConfig } from '../../src/tools/lint.js';
import { namePatternRule } from '../helpers/name-pattern.js';

const { load, decide } = namePatternRule('regauth-class-slash-');
const warnings = (pattern: string) =>
  lintConfig(load(pattern))
    .filter((w) => w.path === 'acl[0].match.name')
    .map((w) => w.message)
    .join('\n');

test.each(['secret[^_]*', 'team[ -~]app', 'v[.-9]x', 'a[^b-c]d', 'secret[!-~]*', 'a[!-0]b'])(
  '%s: warned that docker_auth matched a "/" there',
  (pattern) => {
    expect(warnings(pattern)).toContain('takes a "/" in docker_auth');
  },
);

test('what the warning says happens: secret/app is not matched here', () => {
  expect(decide(load('secret[^_]*'), 'secret/app')).toEqual({ granted: [], rule: null });
  expect(decide(load('secret[^_]*'), 'secretx')).toEqual({ granted: ['pull'], rule: 0 });
});

test.each(['team[a-z]*', 'team[!_]*', 'x[0-9]', 'x[a\\^]', 'a[^ -~]b', 'v[^.-9]x', 'a[.\\-9]b'])(
  '%s: no such warning (no member of it is "/" in Go)',
  (pattern) => {
    expect(warnings(pattern)).not.toContain('takes a "/" in docker_auth');
  },
);

// Found by a review of the first version: `!` is a member in Go, so `[!-~]` is the range from `!`
// and takes a `/` (it was skipped as minimatch's negation); a negated class whose range holds `/`
// refuses it in Go (it was warned of as any `[^…]`); and the warning came first and hid a worse one
// after it.
test('a class Go lets take a "/" does not hide a worse problem after it', () => {
  expect(warnings('a[^_]b/[^/]c')).toContain('matches no name');
});
