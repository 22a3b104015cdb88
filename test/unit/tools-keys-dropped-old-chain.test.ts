/**
 * Found by a review of c11c889 ("Compare leaving keys by key ... a kept pair's chain counts as kept").
 *
 * leavingKid skips a bundle certificate only when its fingerprint is in a kept pair's *current*
 * certificate file, or its public key is a kept pair's signing key. A token.pem with a chain
 * ([leaf, CA]) that is renewed while a rotation is pending under another issuing CA (the
 * intermediate rotated, as internal PKIs do) leaves the old CA certificate in the bundle rotate
 * wrote: it is neither, so `keys activate` names the old CA's key as "the key retired by the last
 * activation (kid …) has left the bundle", before (instead of) the key that really leaves, the
 * one retired by the previous activation. The operator is told the wrong kid, and the tokens
 * that will stop working at the next registry restart go unnamed.
 * Fix: src/tools/keys.ts leavingKid — skip chain certificates of the old bundle too (e.g. a
 * certificate that issued another certificate in it, or one not the first of its pair), not
 * only those of the kept pairs' current files.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review-r6-dropped-old-chain-');
afterAll(() => tmp.cleanup());

/** A CA (key and self-signed certificate) in tmp.dir. */
function ca(name: string): { key: string; cert: string } {
  const key = join(tmp.dir, `${name}.key`);
  const cert = join(tmp.dir, `${name}.pem`);
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  execFileSync('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    key,
    '-out',
    cert,
    '-days',
    '30',
    '-subj',
    `/CN=${name}`,
  ]);
  return { key, cert };
}

/** token.pem := [a certificate for token.key issued by `by`, by's certificate]. */
function issueTokenPem(dir: string, by: { key: string; cert: string }, tag: string): void {
  const csr = join(tmp.dir, `${tag}.csr`);
  const leaf = join(tmp.dir, `${tag}.leaf.pem`);
  execFileSync('openssl', [
    'req',
    '-new',
    '-key',
    join(dir, 'token.key'),
    '-out',
    csr,
    '-subj',
    '/CN=regauth token signer',
  ]);
  execFileSync('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    by.cert,
    '-CAkey',
    by.key,
    '-CAcreateserial',
    '-out',
    leaf,
    '-days',
    '30',
  ]);
  writeFileSync(join(dir, 'token.pem'), readFileSync(leaf, 'utf8') + readFileSync(by.cert, 'utf8'));
}

test('a renewed chain of the kept key is not named as the key that left the bundle', async () => {
  const dir = join(tmp.dir, 'keys');
  await keysInit(dir);
  await keysRotate(dir);
  // The key the next activation drops: retired by this one.
  const older = (await keysActivate(dir)).retiredKid;
  // The signing key's certificate, issued by the organisation's CA, with its chain.
  issueTokenPem(dir, ca('ca-2025'), 'first');
  await keysRotate(dir);
  // Renewed while the rotation is pending, under the CA that replaced the old one.
  issueTokenPem(dir, ca('ca-2026'), 'renewed');

  const result = await keysActivate(dir);
  // Today: droppedKid is the kid of ca-2025's key, which never signed a token.
  expect(result.droppedKid).toBe(older);
});
