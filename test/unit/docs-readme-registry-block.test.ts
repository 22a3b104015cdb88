import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { registryAuthBlock } from '../../src/token/registry-block.js';

/**
 * Found by a review of the docs as a new operator reads them. README "Quick start": on the start
 * that creates the key, `npm start` "prints the `auth.token` block to paste into the registry's
 * `config.yml`", followed by that block. `regauth serve -c config.example.yml` really prints
 * (on stderr, through registryAuthBlock, the one source for `serve` and `keys init`):
 *
 *     realm: http://127.0.0.1:5001/auth   # where clients reach regauth
 *     service: registry.example.com   # clients send it back as `service`
 *
 * where the README shows `# the URL clients use to reach regauth` and
 * `# any name; clients send it back as `service``. Quoting and the spaces before `#` are
 * prettier's (it formats YAML blocks in markdown) and are normalised away here; the words are not.
 */
const ROOT = resolve(import.meta.dirname, '../..');

/** prettier's YAML style: one space before a comment, single-quoted strings. */
const normalise = (block: string) =>
  block
    .split('\n')
    .map((l) =>
      l
        .replace(/\s+#/, ' #')
        .replace(/"([^"]*)"/g, "'$1'")
        .trimEnd(),
    )
    .filter((l) => l !== '')
    .join('\n');

describe('README quick start: the auth.token block it shows is the one serve prints', () => {
  test('same lines, same comments (path of the bundle aside)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const after = readme.slice(readme.indexOf('prints the `auth.token` block'));
    const shown = /```yaml\n([\s\S]*?)```/.exec(after)![1]!;
    const printed = registryAuthBlock({
      realm: 'http://127.0.0.1:5001/auth',
      service: 'registry.example.com',
      issuer: 'regauth',
      bundle: '/path/to/data/token.pem',
      jwks: undefined,
    });
    expect(normalise(shown)).toBe(normalise(printed));
  });
});
