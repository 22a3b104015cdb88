/**
 * Found by a review of the doctor checks of 666821d.
 * Registry v3 (checkOptions) uses /auth/token when autoredirectpath is "", and builds the realm
 * with url.URL{Host, Path}.String(), which puts the "/" before a path written without one. doctor
 * reports both as the registry sending clients "to  on its own host" / "to auth/token": false findings.
 */
import { afterAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { setup } from '../helpers/doctor-registry.js';

const tmp = tempDir('regauth-review-r7-');
afterAll(() => tmp.cleanup());

for (const path of ['""', 'auth/token']) {
  test(`doctor: autoredirectpath ${path} reaches /auth/token`, async () => {
    const { config, registry } = await setup(tmp.dir);
    const run = await regauth([
      'doctor',
      '-c',
      config,
      '--registry-config',
      registry(`    autoredirect: true\n    autoredirectpath: ${path}\n`),
    ]);
    expect(run.stdout).toMatch(/^ok {3}realm:/m);
    expect(run.code).toBe(0);
  });
}
