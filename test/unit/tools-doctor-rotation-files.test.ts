/**
 * Found by a review of the Go-unreadable-key fixes (9ab8c9e, c7e8b81).
 *
 * doctor's rotation stage (src/tools/doctor.ts rotationStage) reads next.pem and previous.pem
 * beside token.certificate with `new X509Certificate(...)` inside a try, but then uses
 * `.publicKey`, `libtrustKeyId` and `registryV3Thumbprint` on them outside it:
 *
 *  - a next.pem whose key regauth cannot make a registry v3 thumbprint of (RSA-PSS, DSA, Ed448,
 *    brainpool) throws "Unsupported JWK Key Type";
 *  - a next.pem or previous.pem whose certificate parses but whose key OpenSSL cannot decode
 *    (`publicKey` throws "decode error") throws too.
 *
 * Either way `regauth doctor` prints "this is a bug in regauth" with a stack and exits 70, and
 * none of the other findings (issuer, service, realm, certificate) are reported. The files are
 * the operator's, beside the key: doctor should report them as a finding (or ignore them, as it
 * does when they do not parse at all), never crash.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-doctor-rotation-files-');
afterAll(() => tmp.cleanup());

function opensslCert(name: string, genpkey: string[]): string {
  const keyPath = join(tmp.dir, `${name}.key`);
  const certPath = join(tmp.dir, `${name}.pem`);
  execFileSync('openssl', ['genpkey', ...genpkey, '-out', keyPath], { stdio: 'ignore' });
  execFileSync('openssl', [
    'req',
    '-new',
    '-x509',
    '-key',
    keyPath,
    '-subj',
    `/CN=${name}`,
    '-days',
    '30',
    '-out',
    certPath,
  ]);
  return readFileSync(certPath, 'utf8');
}

/** A P-256 certificate whose key algorithm OID is changed: it parses, but its key does not decode. */
function undecodableKeyCert(): string {
  const pem = opensslCert('p256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const hex = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64').toString('hex');
  const at = hex.indexOf('2a8648ce3d0201'); // id-ecPublicKey
  const der = Buffer.from(`${hex.slice(0, at)}2a8648ce3d0209${hex.slice(at + 14)}`, 'hex');
  const out = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
  return out;
}

async function setup(name: string): Promise<{ dir: string; config: string; registry: string }> {
  const dir = join(tmp.dir, name);
  execFileSync('mkdir', ['-p', dir]);
  const { keyPath, certPath } = await writeSigningKey(dir);
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `token: {issuer: acme, key: ${keyPath}, certificate: ${certPath}}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`,
  );
  const bundle = join(dir, 'bundle.pem');
  writeFileSync(bundle, readFileSync(certPath, 'utf8'));
  const registry = join(dir, 'registry.yml');
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://auth.example.com/auth/token\n    service: registry.test\n    issuer: acme\n    rootcertbundle: ${bundle}\n`,
  );
  // writeSigningKey names its files; rotation files sit beside token.certificate.
  return { dir: join(certPath, '..'), config, registry };
}

describe('doctor with an unusual next.pem / previous.pem beside token.certificate', () => {
  const cases: [string, 'next.pem' | 'previous.pem', () => string][] = [
    [
      'an RSA-PSS certificate as next.pem',
      'next.pem',
      () => opensslCert('pss', ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048']),
    ],
    ['an Ed448 certificate as next.pem', 'next.pem', () => opensslCert('ed448', ['-algorithm', 'ed448'])],
    ['a certificate whose key does not decode as next.pem', 'next.pem', undecodableKeyCert],
    ['a certificate whose key does not decode as previous.pem', 'previous.pem', undecodableKeyCert],
  ];
  test.each(cases)('%s: a report, not a crash (exit 70)', async (label, file, make) => {
    const { dir, config, registry } = await setup(label.replace(/\W+/g, '-'));
    const pem = make();
    // Precondition: the certificate parses, so doctor's try around `new X509Certificate` passes.
    expect(() => new X509Certificate(pem)).not.toThrow();
    writeFileSync(join(dir, file), pem);
    const run = await regauth(['doctor', '-c', config, '--registry-config', registry]);
    expect(run.stderr, 'doctor crashed on the rotation file').not.toMatch(/this is a bug in regauth/);
    expect(run.code).not.toBe(70);
    expect(run.stdout).toMatch(/^(ok|FAIL) +issuer:/m);
  });
});
