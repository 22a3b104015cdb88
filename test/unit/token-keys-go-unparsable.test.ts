/**
 * Found by a review of c7e8b81 (keys: refuse EC certificates Go cannot parse) and d9c0f1f (a certificate is
 * read whole). goUnreadableKey (src/token/keys.ts) judges only EC keys by their encoding; it lets
 * through certificates Go's crypto/x509 (registry 2.8.2, Go 1.19) refuses to parse, which OpenSSL
 * and node read without complaint:
 *
 *  - an RSA SubjectPublicKeyInfo whose AlgorithmIdentifier lacks the NULL parameters (or has
 *    others): Debian's docker-registry 2.8.2 panics at start on such a rootcertbundle,
 *    `unable to parse token auth root certificate: x509: RSA key missing NULL parameters`
 *    (checked by hand); sent in x5c every token is refused. `validate`/`serve` accept it as
 *    token.certificate, `doctor` says nothing against it in the bundle.
 *  - an EC key on a named curve Go does not know (brainpool, secp256k1: Go knows P-224/256/384/521
 *    only): `x509: unsupported elliptic curve` (checked by hand with the registry). As an
 *    intermediate of token.certificate's chain, with x5c (the default), the registry cannot
 *    parse the chain and refuses every token; regauth loads the chain.
 */
import { createSign, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { regauth } from '../helpers/cli.js';
import { setup } from '../helpers/doctor-registry.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-go-keys-');
afterAll(() => tmp.cleanup());

// --- a little DER, to write the one field OpenSSL would not write so ---
const len = (n: number) => {
  if (n < 0x80) return Buffer.from([n]);
  const b: number[] = [];
  for (let x = n; x > 0; x >>= 8) b.unshift(x & 0xff);
  return Buffer.from([0x80 | b.length, ...b]);
};
const tlv = (tag: number, ...parts: Buffer[]) => {
  const c = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(c.length), c]);
};
const seq = (...p: Buffer[]) => tlv(0x30, ...p);
const oid = (s: string) => {
  const a = s.split('.').map(Number);
  const out = [40 * a[0]! + a[1]!];
  for (const v of a.slice(2)) {
    const b = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) b.unshift(0x80 | (x & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, Buffer.from(out));
};
const utc = (d: Date) => tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'));
const cn = (s: string) => seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(s)))));
const pem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;

/** An RSA key and a self-signed certificate whose SPKI says rsaEncryption without NULL parameters. */
function rsaWithoutNullParameters(): { keyPath: string; certPath: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // SPKI = SEQ { SEQ { rsaEncryption, NULL }, BIT STRING }: keep the BIT STRING, drop the NULL.
  const bitString = spki.subarray(spki.indexOf(Buffer.from([0x03, 0x82])));
  const spkiNoNull = seq(seq(oid('1.2.840.113549.1.1.1')), bitString);
  const sigAlg = seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));
  const now = Date.now();
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, Buffer.from([0x01, 0x23])),
    sigAlg,
    cn('token signer'),
    seq(utc(new Date(now - 3600e3)), utc(new Date(now + 30 * 86400e3))),
    cn('token signer'),
    spkiNoNull,
  );
  const signature = createSign('sha256').update(tbs).sign(privateKey);
  const der = seq(tbs, sigAlg, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const keyPath = join(tmp.dir, 'rsa-nonull.key');
  const certPath = join(tmp.dir, 'rsa-nonull.pem');
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(certPath, pem(der));
  return { keyPath, certPath };
}

function loadError(keyPath: string, certPath: string, name: string): unknown {
  const yaml = `token:\n  issuer: acme\n  key: ${keyPath}\n  certificate: ${certPath}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`;
  try {
    loadConfigText(yaml, { file: join(tmp.dir, `${name}.yml`) });
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('an RSA certificate whose key has no NULL parameters (Go: "RSA key missing NULL parameters")', () => {
  const { keyPath, certPath } = rsaWithoutNullParameters();

  test('precondition: node reads it as the key of token.key', () => {
    const cert = new X509Certificate(readFileSync(certPath));
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(cert.verify(cert.publicKey)).toBe(true);
  });

  test('loading the config refuses it, naming token.certificate', () => {
    const error = loadError(keyPath, certPath, 'rsa-nonull');
    expect(error, 'the config loaded: the registry cannot parse this certificate').toBeDefined();
    expect(String((error as Error).message) + JSON.stringify(error)).toMatch(/token\.certificate/);
  });

  test('doctor: a rootcertbundle holding it is a finding (the registry panics at start)', async () => {
    const dir = join(tmp.dir, 'doctor-rsa');
    execFileSync('mkdir', ['-p', dir]);
    const { config, certPath: good } = await setup(dir);
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, readFileSync(good, 'utf8') + readFileSync(certPath, 'utf8'));
    const registry = join(dir, 'registry.yml');
    writeFileSync(
      registry,
      `version: 0.1\nauth:\n  token:\n    realm: https://auth.example.com/auth/token\n    service: registry.test\n    issuer: acme\n    rootcertbundle: ${bundle}\n`,
    );
    const run = await regauth(['doctor', '-c', config, '--registry-config', registry]);
    expect(run.stdout).toMatch(/^FAIL rootcertbundle:/m);
    expect(run.code).toBe(1);
  });
});

describe('an x5c chain whose intermediate is on brainpoolP256r1 (Go: "unsupported elliptic curve")', () => {
  const dir = join(tmp.dir, 'brainpool');
  execFileSync('mkdir', ['-p', dir]);
  const f = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  writeFileSync(f('ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  writeFileSync(f('leaf.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n');
  ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('root.key'));
  ossl(
    'req',
    '-x509',
    '-new',
    '-key',
    f('root.key'),
    '-subj',
    '/CN=Root',
    '-days',
    '30',
    '-out',
    f('root.pem'),
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  ossl('ecparam', '-name', 'brainpoolP256r1', '-genkey', '-noout', '-out', f('int.key'));
  ossl('req', '-new', '-key', f('int.key'), '-subj', '/CN=Intermediate', '-out', f('int.csr'));
  ossl(
    'x509',
    '-req',
    '-in',
    f('int.csr'),
    '-CA',
    f('root.pem'),
    '-CAkey',
    f('root.key'),
    '-days',
    '20',
    '-extfile',
    f('ca.ext'),
    '-out',
    f('int.pem'),
  );
  ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('leaf.key'));
  ossl('req', '-new', '-key', f('leaf.key'), '-subj', '/CN=token signer', '-out', f('leaf.csr'));
  ossl(
    'x509',
    '-req',
    '-in',
    f('leaf.csr'),
    '-CA',
    f('int.pem'),
    '-CAkey',
    f('int.key'),
    '-days',
    '10',
    '-extfile',
    f('leaf.ext'),
    '-out',
    f('leaf.pem'),
  );
  writeFileSync(
    f('chain.pem'),
    ['leaf.pem', 'int.pem', 'root.pem'].map((n) => readFileSync(f(n), 'utf8')).join(''),
  );

  test('precondition: the intermediate is on brainpoolP256r1', () => {
    const cert = new X509Certificate(readFileSync(f('int.pem')));
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('brainpoolP256r1');
  });

  test('loading the config (x5c, the default) refuses the chain, naming token.certificate', () => {
    const error = loadError(f('leaf.key'), f('chain.pem'), 'brainpool');
    expect(error, 'the config loaded: the registry cannot parse the x5c chain').toBeDefined();
    expect(String((error as Error).message) + JSON.stringify(error)).toMatch(/token\.certificate/);
  });
});
