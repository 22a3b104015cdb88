/**
 * Found by a review of 2f255d5 (src/token/registry-block.ts bundleTrusts, x5c on).
 *
 * With x5c the registry runs Go's x509 Verify: intermediates from x5c[1:], roots from the bundle,
 * and a chain must link the LEAF to a root by issuer name and signature. bundleTrusts instead
 * trusts when ANY certificate of the chain is in the bundle or was issued by one of it, whether
 * or not that certificate issued the leaf. The certificate file of a leaf issued by a renewed
 * intermediate (new key, same name) but still carrying the old intermediate (issued by the root
 * kept in the bundle) is 'chain' here (doctor passes, serve names the bundle), while the registry
 * finds no issuer of the leaf and refuses every token.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { bundleTrusts } from '../../src/token/registry-block.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-stale-intermediate-');
afterAll(() => tmp.cleanup());

function openssl(...args: string[]) {
  execFileSync('openssl', args, { cwd: tmp.dir, stdio: 'pipe' });
}
const cert = (name: string) => new X509Certificate(readFileSync(join(tmp.dir, name)));

test('a chain whose intermediate did not issue the leaf is not trusted by the root', () => {
  writeFileSync(
    join(tmp.dir, 'ca.ext'),
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n',
  );
  const key = (n: string) =>
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', n);
  key('root.key');
  openssl('req', '-x509', '-new', '-key', 'root.key', '-subj', '/CN=Root', '-days', '30', '-out', 'root.pem');
  // The old and the renewed intermediate: same name, different keys, both issued by Root.
  for (const i of ['old', 'new']) {
    key(`${i}.key`);
    openssl('req', '-new', '-key', `${i}.key`, '-subj', '/CN=Intermediate', '-out', `${i}.csr`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${i}.csr`,
      '-CA',
      'root.pem',
      '-CAkey',
      'root.key',
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      'ca.ext',
      '-out',
      `${i}.pem`,
    );
  }
  key('leaf.key');
  openssl('req', '-new', '-key', 'leaf.key', '-subj', '/CN=regauth', '-out', 'leaf.csr');
  openssl(
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'new.pem',
    '-CAkey',
    'new.key',
    '-CAcreateserial',
    '-days',
    '30',
    '-out',
    'leaf.pem',
  );
  const leaf = cert('leaf.pem');
  const stale = cert('old.pem');
  expect(leaf.verify(stale.publicKey)).toBe(false); // the chain is broken: Go's Verify fails
  // It is 'chain': the stale intermediate, not the leaf's issuer, was issued by the bundle's root.
  expect(bundleTrusts([cert('root.pem')], [leaf, stale], true)).toBe(false);
  // (With the right intermediate it is trusted, as it should be.)
  expect(bundleTrusts([cert('root.pem')], [leaf, cert('new.pem')], true)).toBe('chain');
});
