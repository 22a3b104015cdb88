/**
 * Found by a review of 057f3b9 / 97a32e6 (the keys verbs: "every refusal says how to go on").
 *
 * keys init writes token.key first, then token.pem, bundle.pem and jwks.json. Cut short after its
 * first write (Ctrl-C, a full disk, a container killed), the directory holds token.key alone, which
 * nothing uses yet. Run again, each verb sends the operator to another that cannot run:
 *   keys init     → "token.key exists; refusing to overwrite a signing key (use `regauth keys rotate`)"
 *   keys rotate   → "ENOENT: no such file or directory, open '…/token.pem'" (no advice)
 *   keys activate → "no rotation is pending …; start one with `regauth keys rotate …`"
 * Fix: src/tools/keys.ts keysInit — finish an init whose token.key has no token.pem (nor bundle),
 * or name it as an init cut short to delete; keysRotate/keysPublish — a missing token.pem is a
 * UsageError saying so.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysInit } from '../../src/tools/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r3-init-cut-');
afterAll(() => tmp.cleanup());

/** What keys init leaves when stopped after its first write: token.key alone. */
async function cutAfterKey(name: string): Promise<string> {
  const dir = join(tmp.dir, name);
  await keysInit(dir);
  for (const f of ['token.pem', 'bundle.pem', 'jwks.json']) rmSync(join(dir, f));
  expect(readdirSync(dir)).toEqual(['token.key']);
  return dir;
}

test('keys init run again after it was cut short past token.key finishes, or says what to remove', async () => {
  const dir = await cutAfterKey('init');
  const run = await regauth(['keys', 'init', '--dir', dir]);
  // Today: exit 2, "... token.key exists; refusing to overwrite a signing key (use `regauth keys rotate`)".
  expect({ code: run.code, namesTokenPem: /token\.pem/.test(run.stderr) }).toMatchObject(
    run.code === 0 ? { code: 0 } : { namesTokenPem: true },
  );
});

test('keys rotate, where init sends the operator, says what is wrong rather than a bare ENOENT', async () => {
  const dir = await cutAfterKey('rotate');
  const run = await regauth(['keys', 'rotate', '--dir', dir]);
  expect(run.code).toBe(2);
  // Today: "regauth: ENOENT: no such file or directory, open '…/token.pem'".
  expect(run.stderr).not.toMatch(/ENOENT/);
  expect(run.stderr).toMatch(/token\.pem/);
});
