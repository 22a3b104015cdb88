/**
 * Found by a review of the doctor checks of 666821d.
 * The registry reads its config with Go's yaml.v2 (YAML 1.1): `autoredirect: yes` (or on, Yes, ON)
 * is true there, and its challenge sends clients to https://<registry host>/auth/token. doctor
 * reads the file as YAML 1.2, sees the string "yes", and checks the (ignored) realm instead:
 * under server.path_prefix /regauth it reports the registry trusting regauth, yet every login fails.
 */
import { afterAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { setup } from '../helpers/doctor-registry.js';

const tmp = tempDir('regauth-review-r7-');
afterAll(() => tmp.cleanup());

test('doctor: autoredirect: yes is autoredirect for the registry', async () => {
  const { config, registry } = await setup(tmp.dir, '/regauth');
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('    autoredirect: yes\n'),
  ]);
  expect(run.stdout).not.toContain('the registry trusts regauth');
  expect(run.stdout).toMatch(/^FAIL realm:/m);
  expect(run.code).toBe(1);
});
