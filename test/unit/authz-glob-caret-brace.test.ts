import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText, type Config } from '../../src/config/load.js';
import { lintConfig } from '../../src/tools/lint.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

// Found by a review of 36c0504 ("Refuse a glob class that starts with an escaped ^"). CARET_FIRST is tested on
// the pattern as written, but minimatch expands braces before it reads classes: `x[{\^,b}a]`
// becomes the alternatives `x[\^a]` and `x[ba]`, and the first is the very class the commit
// refuses (minimatch emits the JS class [^a]: negated). The pattern loads, `validate` says nothing,
// and it grants xc, xz, x^ ... (everything but "xa" through the negated alternative, and "xa"
// through the other). Neither reading grants xc: Go's path.Match reads one class of the members
// { ^ , b } a; regauth's documented reading (braces expanded) gives [\^a] = {^, a} and [ba].
// Passes when regauth refuses the pattern, warns of it, or does not grant xc.
const tmp = tempDir('regauth-review-acl3-caret-brace-');
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

test('x[{\\^,b}a] (an escaped caret first in a class after brace expansion) does not grant xc unwarned', () => {
  const config = load('x[{\\^,b}a]');
  if (!config) return;
  if (lintConfig(config).some((w) => w.path === 'acl[0].match.name')) return;
  const granted = (name: string) =>
    config.acl.authorize({
      account: 'alice',
      type: 'repository',
      name,
      service: 'registry',
      ip: null,
      labels: {},
      actions: ['pull'],
    }).granted;
  expect(granted('xa')).toEqual(['pull']);
  expect(granted('xc')).toEqual([]);
});
