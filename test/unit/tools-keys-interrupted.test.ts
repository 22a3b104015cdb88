/**
 * Found by a review of signing-key rotation: `keys rotate` stopped by Ctrl-C (SIGINT) while it
 * writes. The keys verbs installed no signal handler, so SIGINT ended the process between two of
 * its files:
 *
 * - after next.key, before bundle.pem: a pending rotation no bundle held, which the next
 *   `keys rotate` described as "may already be trusted by the registry";
 * - between bundle.pem and jwks.json: the next key in the bundle but not in the JWKS, and
 *   `keys activate` (which checked the bundle only) accepted it; a registry v3 restarted with that
 *   jwks.json then refuses every token that names its key by kid.
 *
 * A signal now lets the step finish its files (a second one stops it at once), and `keys
 * activate` refuses a next key the JWKS lacks, however the files came to be so (a kill -9, a copy
 * by hand).
 */
import { spawnSync } from 'node:child_process';
import { createPublicKey, X509Certificate, type JsonWebKey } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { keysInit, keysRotate } from '../../src/tools/keys.js';
import { certificateFingerprints } from '../../src/token/keys.js';
import { ensureBuilt } from '../helpers/build.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = tempDir('regauth-keys-interrupted-');
afterAll(() => tmp.cleanup());
const preload = join(tmp.dir, 'cut.mjs');

beforeAll(() => {
  ensureBuilt();
  // Sends the process SIGINT just before it renames a file over $CUT_AT.
  writeFileSync(
    preload,
    `import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const rename = fs.promises.rename;
fs.promises.rename = async (from, to) => {
  if (String(to).endsWith('/' + process.env.CUT_AT)) {
    for (let i = 0; i < Number(process.env.TIMES ?? 1); i++) {
      process.kill(process.pid, 'SIGINT');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return rename(from, to);
};
syncBuiltinESMExports();
`,
  );
}, 120_000);

/** `regauth keys rotate --dir dir`, Ctrl-C'd just before it renames a file over `cutAt`. */
function rotateCutAt(dir: string, cutAt: string, times = 1) {
  return spawnSync(
    process.execPath,
    ['--import', preload, join(ROOT, 'dist/cli/main.js'), 'keys', 'rotate', '--dir', dir],
    {
      env: { ...process.env, CUT_AT: cutAt, TIMES: String(times) },
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    },
  );
}

const holds = (file: string, certificate: string) =>
  certificateFingerprints(readFileSync(file, 'utf8')).includes(certificateFingerprints(certificate)[0]!);

for (const cutAt of ['bundle.pem', 'jwks.json']) {
  test(`Ctrl-C just before keys rotate writes ${cutAt}: the step finishes its files, then stops`, async () => {
    const dir = join(tmp.dir, `cut-${cutAt}`);
    await keysInit(dir);
    const run = rotateCutAt(dir, cutAt);
    expect(run.stderr).toMatch(/finishing the key files/);
    expect(run.status).toBe(130);
    const next = readFileSync(join(dir, 'next.pem'), 'utf8');
    expect(holds(join(dir, 'bundle.pem'), next)).toBe(true);
    const jwks = JSON.parse(readFileSync(join(dir, 'jwks.json'), 'utf8')) as { keys: JsonWebKey[] };
    const nextKey = new X509Certificate(next).publicKey;
    expect(jwks.keys.some((k) => createPublicKey({ key: k, format: 'jwk' }).equals(nextKey))).toBe(true);
    expect((await regauth(['keys', 'activate', '--dir', dir])).code).toBe(0);
  });
}

test('keys activate refuses a next key that bundle.pem holds and jwks.json does not', async () => {
  const dir = join(tmp.dir, 'jwks-behind');
  await keysInit(dir);
  copyFileSync(join(dir, 'jwks.json'), join(tmp.dir, 'jwks-before.json'));
  await keysRotate(dir);
  // As a rotate stopped between its two files left them (or a copy of bundle.pem alone).
  copyFileSync(join(tmp.dir, 'jwks-before.json'), join(dir, 'jwks.json'));
  const run = await regauth(['keys', 'activate', '--dir', dir]);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/jwks\.json does not hold the next key/);
  expect(run.stderr).toMatch(/nothing was changed/);
  expect(readFileSync(join(dir, 'next.pem'), 'utf8')).toContain('CERTIFICATE');
});

// Found by a review of 0455a95: a second Ctrl-C stops the step at once, before its own clean-up,
// and left the key directory's lock behind: every later step was refused until it was deleted.
test('a second Ctrl-C stops the step at once and gives its lock back', async () => {
  const dir = join(tmp.dir, 'twice');
  await keysInit(dir);
  const run = rotateCutAt(dir, 'bundle.pem', 2);
  expect(run.status).toBe(130);
  expect(existsSync(join(dir, '.keys.lock'))).toBe(false);
  // The next step runs, and finds the rotation the first one left half done.
  const again = await regauth(['keys', 'rotate', '--dir', dir]);
  expect(again.stderr).not.toMatch(/another `regauth keys` step/);
  expect(again.stderr).toMatch(/next\.key/);
});
