/**
 * Found by a review of signing keys.
 *
 * docs/registry-compatibility.md / src/token/keys.ts loadSigningKey: a bad `token.certificate` is
 * refused with RegauthError ERR_KEY naming the file, which the loader turns into a config error
 * (`line N: token.certificate: <path>: …`). But three steps of loadSigningKey run outside any
 * catch:
 *
 *  - `leaf.publicKey` (node's X509Certificate getter) throws OpenSSL's `decode error` for a
 *    certificate whose SubjectPublicKeyInfo OpenSSL cannot turn into a key;
 *  - `AsnConvert.parse(cert.raw, Certificate)` in checkSignatureHashes and checkCriticalExtensions
 *    throws AsnSchemaValidationError / "OCTET STRING may consists of OCTET STRINGs only" for a
 *    certificate OpenSSL parses leniently (BER rather than DER) and @peculiar/asn1-schema does not.
 *
 * Such an error is no ConfigErrors: `regauth validate`/`serve` print "this is a bug in regauth,
 * please report it" and a stack trace, without naming the file or the YAML key.
 *
 * The certificates are made here from a freshly generated one by changing one byte, keeping each
 * that node's X509Certificate still parses.
 */
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-keys-malformed-cert-');
afterAll(() => tmp.cleanup());

const toPem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;

let keyPath = '';
/** Certificates node parses, each one byte off a good one. */
const variants: string[] = [];

beforeAll(async () => {
  const { keyPem, certPem } = await generateSigningMaterial({
    alg: 'ES256',
    commonName: 'token signer',
    validDays: 30,
  });
  keyPath = join(tmp.dir, 'token.key');
  writeFileSync(keyPath, keyPem, { mode: 0o600 });
  const der = new X509Certificate(certPem).raw;
  for (let i = 0; i < der.length; i++) {
    for (const value of [0x00, 0x10, 0x24, der[i]! ^ 0x01, der[i]! ^ 0x20]) {
      const d = Buffer.from(der);
      d[i] = value;
      const pem = toPem(d);
      try {
        new X509Certificate(pem);
      } catch {
        continue;
      }
      variants.push(pem);
    }
  }
});

function configFor(certPem: string, n: number): string {
  const certPath = join(tmp.dir, `cert-${n}.pem`);
  writeFileSync(certPath, certPem);
  const file = join(tmp.dir, `config-${n}.yml`);
  writeFileSync(
    file,
    `token:\n  issuer: acme\n  key: ${keyPath}\n  certificate: ${certPath}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`,
  );
  return file;
}

test('every certificate node parses either loads or is a config error naming token.certificate', () => {
  expect(variants.length).toBeGreaterThan(100);
  const escaped: string[] = [];
  variants.forEach((pem, n) => {
    const yaml = `token:\n  issuer: acme\n  key: ${keyPath}\n  certificate: ${join(tmp.dir, `v${n}.pem`)}\n`;
    writeFileSync(join(tmp.dir, `v${n}.pem`), pem);
    try {
      loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });
    } catch (err) {
      if (!(err instanceof ConfigErrors))
        escaped.push(`${(err as Error).constructor.name}: ${(err as Error).message}`);
    }
  });
  expect([...new Set(escaped)]).toEqual([]);
});

/** A variant for which `pick` throws (what loadSigningKey runs outside its catches). */
function variantWhere(pick: (cert: X509Certificate) => unknown): number {
  return variants.findIndex((pem) => {
    try {
      pick(new X509Certificate(pem));
      return false;
    } catch {
      return true;
    }
  });
}

test.each([
  ['whose public key OpenSSL cannot decode', (c: X509Certificate) => c.publicKey],
  ['that @peculiar/asn1-schema cannot parse', (c: X509Certificate) => AsnConvert.parse(c.raw, Certificate)],
])(
  'regauth validate: a certificate %s is a config error naming the file, no stack trace',
  async (_what, pick) => {
    const n = variantWhere(pick);
    expect(n, 'no such variant made').toBeGreaterThanOrEqual(0);
    const run = await regauth(['validate', '-c', configFor(variants[n]!, n)]);
    expect(run.stderr).not.toMatch(/this is a bug in regauth/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr).toMatch(/token\.certificate/);
    // A config error: exit 2, as for any other bad token.certificate (70 is the crash code).
    expect(run.code).toBe(2);
  },
);
