/**
 * Found by a review of the doctor checks of 666821d.
 * Registry 2.8 and v3 take autoredirect only as a YAML bool: `autoredirect: "true"` stops them at
 * start-up ("token auth requires a valid option bool: autoredirect"). v3, with autoredirect on,
 * takes autoredirectpath only as a string: `autoredirectpath:` (null) stops it too. doctor
 * ignores both and says the registry trusts regauth.
 */
import { afterAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { setup } from '../helpers/doctor-registry.js';

const tmp = tempDir('regauth-review-r7-');
afterAll(() => tmp.cleanup());

test('doctor: autoredirect as a string is a finding', async () => {
  const { config, registry } = await setup(tmp.dir);
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('    autoredirect: "true"\n'),
  ]);
  expect(run.stdout).not.toContain('the registry trusts regauth');
  expect(run.code).toBe(1);
});

test('doctor: autoredirectpath null with autoredirect is a finding (v3)', async () => {
  const { config, registry } = await setup(tmp.dir);
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('    autoredirect: true\n    autoredirectpath:\n'),
  ]);
  expect(run.stdout).not.toContain('the registry trusts regauth');
  expect(run.code).toBe(1);
});
