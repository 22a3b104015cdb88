/**
 * Found by a review of the doctor checks of 666821d.
 * With autoredirect the realm check passes without parsing realm (the registry ignores it, so a
 * placeholder such as "/auth/token" is common), and `doctor --probe` then calls new URL(realm)
 * outside any try: "TypeError: Invalid URL", exit 70 ("this is a bug in regauth").
 */
import { afterAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { setup } from '../helpers/doctor-registry.js';

const tmp = tempDir('regauth-review-r7-');
afterAll(() => tmp.cleanup());

test('doctor --probe: autoredirect with a relative realm does not crash', async () => {
  const { config, registry } = await setup(tmp.dir);
  const file = registry('    autoredirect: true\n', 'realm: /auth/token\n    ');
  const run = await regauth(['doctor', '--probe', '-c', config, '--registry-config', file]);
  expect(run.stderr).not.toContain('TypeError');
  expect(run.code).not.toBe(70);
});
