import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText, type Config } from '../../src/config/load.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

// Found by a review of e911d7a (classMembers). parseClass puts the negated POSIX classes [:graph:] and
// [:print:] in a separate `negs` list, not in `ranges`, so the first member written into the
// regex class `[...]` is the first non-negated member. classMembers counts `[:print:]` as the
// first member, so in `x[[:print:]\^a]` it misses that minimatch writes `^([^a]|[^\p{C}])`:
// the `^` negates, and the class matches every character (control characters too) instead of
// printable ones, `^` and `a`. Passes when regauth refuses it (as it refuses `x[\^a]`) or
// does not grant `x` followed by a control character.
const tmp = tempDir('regauth-review-acl5-caret-posix-');
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
    return undefined;
  }
}

for (const pattern of ['x[[:print:]\\^a]', 'x[[:graph:]^a]']) {
  test(`${pattern} (a ^ written first after a negated POSIX class) is refused or not negated`, () => {
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
    expect(['x^', 'xa', 'x\u0007'].filter(granted)).toEqual(['x^', 'xa']);
  });
}
