import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText, type Config } from '../../src/config/load.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

// Found by a review of e911d7a (caretFirst). caretFirst exempts a class of one escaped character (`[\^]`)
// because "minimatch writes it as that character". minimatch does so only in literal()
// (node_modules/minimatch/dist/esm/index.js), i.e. when the whole path portion has no other
// magic. In `x[\^]*` the portion is not literal, so the class goes through parseClass, which
// emits the JS class `[^]` (with the u flag: any character). minimatch then matches `xa`, `xb`,
// ... where Go's path.Match (docker_auth) matches only `x^` followed by anything.
// Passes when regauth refuses the pattern or grants as Go does.
const tmp = tempDir('regauth-review-acl5-caret-single-');
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

for (const [pattern, names, goGrants] of [
  ['x[\\^]*', ['x^', 'x^a', 'xa', 'xab'], ['x^', 'x^a']],
  ['x[\\^]?', ['x^b', 'xab'], ['x^b']],
  ['{a,b}[\\^]y*', ['a^y', 'acy'], ['a^y']],
] as const) {
  test(`${pattern} (a one-character class [\\^] beside other magic) grants as Go does or is refused`, () => {
    const config = load(pattern);
    if (!config) return;
    const granted = (name: string) =>
      config.acl.authorize({
        account: 'alice',
        type: 'repository',
        name,
        service: 'registry',
        ip: null,
        labels: {},
        actions: ['pull'],
      }).granted.length > 0;
    expect(names.filter(granted)).toEqual(goGrants);
  });
}
