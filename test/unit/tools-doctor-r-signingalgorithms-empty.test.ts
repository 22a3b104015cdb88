/**
 * Found by a review of the doctor checks of 666821d.
 * Registry v3: an empty signingalgorithms list means the default list, every algorithm it knows
 * ("if len(signAlgos) == 0 { signAlgos = defaultSigningAlgorithms }"). doctor reports
 * "(not a list) does not hold ES256 ... refuses every token": a false finding, exit 1.
 */
import { afterAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { setup } from '../helpers/doctor-registry.js';

const tmp = tempDir('regauth-review-r7-');
afterAll(() => tmp.cleanup());

test('doctor: signingalgorithms: [] accepts every algorithm', async () => {
  const { config, registry } = await setup(tmp.dir);
  const run = await regauth([
    'doctor',
    '-c',
    config,
    '--registry-config',
    registry('    signingalgorithms: []\n'),
  ]);
  expect(run.stdout).not.toMatch(/^FAIL signingalgorithms:/m);
  expect(run.code).toBe(0);
});
