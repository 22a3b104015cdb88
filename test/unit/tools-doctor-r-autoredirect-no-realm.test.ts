/**
 * Found by a review of the doctor checks of 666821d.
 * Registry 2.8 and v3 require auth.token.realm to be a string even with autoredirect: true
 * (checkOptions: "token auth requires a valid option string: \"realm\"") and refuse to start
 * without it. With autoredirect, doctor skips the realm entirely and says all is well.
 */
import { afterAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { setup } from '../helpers/doctor-registry.js';

const tmp = tempDir('regauth-review-r7-');
afterAll(() => tmp.cleanup());

test('doctor: autoredirect without realm is a finding (the registry refuses to start)', async () => {
  const { config, registry } = await setup(tmp.dir);
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('    autoredirect: true\n', ''),
  ]);
  expect(run.stdout).not.toContain('the registry trusts regauth');
  expect(run.stdout).toMatch(/^FAIL realm:/m);
  expect(run.code).toBe(1);
});
