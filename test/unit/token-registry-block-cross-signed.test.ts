/**
 * Found by a review of 0ebb71e (src/token/registry-block.ts bundleTrusts, x5c on): the walk from the leaf is
 * greedy. At each step it takes the FIRST certificate of the chain file that issued the current
 * one and never tries another. With a cross-signed intermediate (same name and key, one issued by
 * Root A, one by Root B, both in the file, as CAs ship them, intA first), a bundle holding only Root B is
 * judged not to trust the leaf, while Go's x509 Verify (the registry) and `openssl verify` find
 * leaf -> Intermediate (by B) -> Root B. Before 0ebb71e it was 'chain'.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { bundleTrusts } from '../../src/token/registry-block.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-cross-signed-');
afterAll(() => tmp.cleanup());

const openssl = (...args: string[]) =>
  execFileSync('openssl', args, { cwd: tmp.dir, stdio: 'pipe' }).toString();
const cert = (name: string) => new X509Certificate(readFileSync(join(tmp.dir, name)));
const key = (n: string) =>
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', n);
const sign = (csr: string, ca: string, out: string, ext?: string) =>
  openssl(
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    '30',
    ...(ext ? ['-extfile', ext] : []),
    '-out',
    out,
  );

test('a cross-signed intermediate: the bundle holding the second root trusts the leaf', () => {
  writeFileSync(
    join(tmp.dir, 'ca.ext'),
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n',
  );
  for (const r of ['rootA', 'rootB']) {
    key(`${r}.key`);
    openssl(
      'req',
      '-x509',
      '-new',
      '-key',
      `${r}.key`,
      '-subj',
      `/CN=${r}`,
      '-days',
      '30',
      '-out',
      `${r}.pem`,
    );
  }
  // One intermediate key and name, cross-signed by both roots.
  key('int.key');
  openssl('req', '-new', '-key', 'int.key', '-subj', '/CN=Intermediate', '-out', 'int.csr');
  sign('int.csr', 'rootA', 'intA.pem', 'ca.ext');
  sign('int.csr', 'rootB', 'intB.pem', 'ca.ext');
  key('leaf.key');
  openssl('req', '-new', '-key', 'leaf.key', '-subj', '/CN=regauth', '-out', 'leaf.csr');
  openssl(
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'intA.pem',
    '-CAkey',
    'int.key',
    '-CAcreateserial',
    '-days',
    '30',
    '-out',
    'leaf.pem',
  );
  writeFileSync(
    join(tmp.dir, 'untrusted.pem'),
    readFileSync(join(tmp.dir, 'intA.pem')).toString() + readFileSync(join(tmp.dir, 'intB.pem')).toString(),
  );
  // A path leaf -> intB -> rootB exists; Go's buildChains tries every potential parent (intA, then
  // intB) and finds it. (openssl verify does not backtrack: it says OK with intB listed first in
  // -untrusted, fails with intA first, as the greedy walk does.)
  writeFileSync(
    join(tmp.dir, 'untrusted.pem'),
    readFileSync(join(tmp.dir, 'intB.pem')).toString() + readFileSync(join(tmp.dir, 'intA.pem')).toString(),
  );
  expect(openssl('verify', '-CAfile', 'rootB.pem', '-untrusted', 'untrusted.pem', 'leaf.pem')).toContain(
    'leaf.pem: OK',
  );
  const chain = [cert('leaf.pem'), cert('intA.pem'), cert('intB.pem')];
  expect(bundleTrusts([cert('rootA.pem')], chain, true)).toBe('chain');
  // Fails here: false (the walk took intA, whose issuer Root A is not in the bundle, and stopped).
  expect(bundleTrusts([cert('rootB.pem')], chain, true)).toBe('chain');
});
