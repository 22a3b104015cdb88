/**
 * Found by a review of the static backends against docker_auth: docker_auth takes a request
 * without credentials as the user "" with the password "", and compares that with the `""`
 * entry's hash. regauth answers every such request 401 `password required` (the tools say so:
 * check, test, who-can, replay), and loaded a migrated config with a passworded `""` without a
 * word. `regauth validate` now says what the entry does here.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { lintConfig } from '../../src/tools/lint.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-lint-anonymous-');
let head = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  head = `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\nacl: [{match: {}, actions: [pull]}]\n`;
});
afterAll(() => tmp.cleanup());

const warnings = (users: string) =>
  lintConfig(loadConfigText(`${head}users:\n${users}`, { file: join(tmp.dir, 'config.yml') })).map(
    (w) => `${w.path}: ${w.message}`,
  );

test('a "" account with a password: validate says requests without credentials get 401', () => {
  expect(warnings(`  "": {password: "${hash('')}"}\n`)).toEqual([
    'users[""].password: requests without credentials send no password, so each gets 401 (docker_auth compared them as the empty password with this hash); write "": {} to let them in, or remove the entry',
  ]);
});

test('"": {} and a "" with labels only draw no such warning', () => {
  expect(warnings(`  "": {}\n`)).toEqual([]);
  expect(warnings(`  "": {labels: {group: [public]}}\n`)).toEqual([]);
});
