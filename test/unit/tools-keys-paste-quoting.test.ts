/**
 * Found by a review of keys and reload. `regauth keys init` prints the blocks to paste into regauth's and the registry's config.yml
 * (pasteBlocks, registryAuthBlock; `regauth serve` prints the registry block too). The paths go
 * in as plain YAML scalars: a --dir holding ` #` is cut at the comment (the config then names
 * another file), and one holding `: ` does not parse. The issuer is quoted; the paths are not.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, expect, test } from 'vitest';
import { keysInit, pasteBlocks } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-keys-paste-');
afterAll(() => tmp.cleanup());

test.each(['keys #2', 'site: a', 'true', '007'])(
  'the pasted blocks name the files keys init wrote (--dir %j)',
  async (name) => {
    const files = await keysInit(join(tmp.dir, name));
    const text = pasteBlocks(files, readFileSync(files.certificate, 'utf8'));
    const [regauth, registry] = text.split('# registry config.yml');
    const ours = load(regauth!) as { token: { key: string; certificate: string } };
    expect(ours.token.key).toBe(files.key);
    expect(ours.token.certificate).toBe(files.certificate);
    const theirs = load(registry!) as { auth: { token: { rootcertbundle: string; jwks: string } } };
    expect(theirs.auth.token.rootcertbundle).toBe(files.bundle);
    expect(theirs.auth.token.jwks).toBe(files.jwks);
  },
);

test('plain paths stay plain in the pasted blocks', async () => {
  const files = await keysInit(join(tmp.dir, 'plain', 'keys'));
  const text = pasteBlocks(files, readFileSync(files.certificate, 'utf8'));
  expect(text).toContain(`  key: ${files.key}\n`);
  expect(text).toContain(`    rootcertbundle: ${files.bundle}\n`);
});
