/**
 * A rootcertbundle holding a certificate node parses but cannot read whole (OpenSSL cannot decode
 * its key, or it is not strict DER): doctor read its key outside any catch and ended in "this is
 * a bug in regauth" with a stack trace. Go's strict parser refuses such a certificate, so the
 * registry does not start on that bundle: a finding. Found by a review of signing keys.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { setup } from '../helpers/doctor-registry.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-doctor-bundle-malformed-');
let config = '';
let cert = '';
beforeAll(async () => {
  ({ config, certPath: cert } = await setup(tmp.dir));
});
afterAll(() => tmp.cleanup());

const toPem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;

/** The certificate one byte off, where node still parses it and its key cannot be read. */
function keyless(pem: string): string {
  const der = new X509Certificate(pem).raw;
  for (let i = 0; i < der.length; i++) {
    for (const value of [0x00, 0x10, 0x24, der[i]! ^ 0x01, der[i]! ^ 0x20]) {
      const d = Buffer.from(der);
      d[i] = value;
      try {
        const c = new X509Certificate(toPem(d));
        void c.publicKey;
      } catch (err) {
        if ((err as Error).message.includes('decode')) return toPem(d);
      }
    }
  }
  throw new Error('no such variant');
}

test('doctor: a bundle certificate whose key cannot be read is a finding, not a crash', async () => {
  const good = readFileSync(cert, 'utf8');
  const bundle = join(tmp.dir, 'bundle.pem');
  writeFileSync(bundle, good + keyless(good));
  const registry = join(tmp.dir, 'registry.yml');
  writeFileSync(
    registry,
    `version: 0.1\nauth:\n  token:\n    realm: https://r.example.com/auth\n    service: registry.test\n    issuer: acme\n    rootcertbundle: ${bundle}\n`,
  );
  const run = await regauth(['doctor', '-c', config, '--registry-config', registry]);
  expect(run.stderr).not.toMatch(/this is a bug in regauth/);
  expect(run.stdout).toMatch(/^FAIL rootcertbundle:/m);
  expect(run.code).toBe(1);
});
