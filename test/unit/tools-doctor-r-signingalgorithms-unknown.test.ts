/**
 * Found by a review of the doctor checks of 666821d.
 * Registry v3 refuses to start on a signingalgorithms entry it does not know ("unsupported signing
 * algorithm: es256", names are case-sensitive) or that is not a string ("signingalgorithms must be
 * a list of signing algorithms"). doctor skips such entries and passes when ES256 is also listed.
 */
import { afterAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { setup } from '../helpers/doctor-registry.js';

const tmp = tempDir('regauth-review-r7-');
afterAll(() => tmp.cleanup());

for (const list of ['[ES256, es256]', '[ES256, 5]']) {
  test(`doctor: signingalgorithms ${list} stops the registry`, async () => {
    const { config, registry } = await setup(tmp.dir);
    const run = await regauth([
      'doctor',
      '-c',
      config,
      '--registry-config',
      registry(`    signingalgorithms: ${list}\n`),
    ]);
    expect(run.stdout).toMatch(/^FAIL signingalgorithms:/m);
    expect(run.code).toBe(1);
  });
}
