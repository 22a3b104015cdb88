/**
 * Found by a review of signing keys.
 *
 * docs/registry-compatibility.md "Signing keys": `token.key` is an EC key on P-256/P-384/P-521 or
 * RSA ≥ 2048; "other key types are refused at load: registry 2.8 verifies only these". regauth
 * judges the key by what OpenSSL reports (`asymmetricKeyDetails.namedCurve`), which names the curve
 * of a P-256 key however its certificate's SubjectPublicKeyInfo is encoded. Go's crypto/x509 (the
 * registry, 2.8 and 3 alike) parses only a named-curve OID and an uncompressed point:
 *
 *  - `openssl ecparam -param_enc explicit` (explicit curve parameters): Debian's docker-registry
 *    2.8.2 panics at start, `unable to parse token auth root certificate: x509: invalid ECDSA
 *    parameters`;
 *  - `openssl ec -conv_form compressed` (a compressed point; `openssl req` keeps it in the
 *    certificate): `x509: failed to unmarshal elliptic curve point`.
 *
 * With either certificate as rootcertbundle the registry never starts; sent in `x5c` every token is
 * refused. Yet `regauth validate` calls the config valid, `serve` signs with it, and `doctor` reports
 * `ok rootcertbundle`. (Checked by hand against /usr/bin/docker-registry 2.8.2.)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-keys-ec-encoding-');
afterAll(() => tmp.cleanup());

/** A P-256 key written by openssl in the given form, and a self-signed certificate made from it. */
function opensslPair(name: string, form: 'explicit' | 'compressed'): { keyPath: string; certPath: string } {
  const keyPath = join(tmp.dir, `${name}.key`);
  const certPath = join(tmp.dir, `${name}.pem`);
  if (form === 'explicit') {
    execFileSync('openssl', [
      'ecparam',
      '-name',
      'prime256v1',
      '-genkey',
      '-noout',
      '-param_enc',
      'explicit',
      '-out',
      keyPath,
    ]);
  } else {
    const plain = join(tmp.dir, `${name}-plain.key`);
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', plain]);
    execFileSync('openssl', ['ec', '-in', plain, '-conv_form', 'compressed', '-out', keyPath], {
      stdio: 'ignore',
    });
  }
  execFileSync('openssl', [
    'req',
    '-new',
    '-x509',
    '-key',
    keyPath,
    '-subj',
    '/CN=token signer',
    '-days',
    '30',
    '-out',
    certPath,
  ]);
  return { keyPath, certPath };
}

const forms = ['explicit', 'compressed'] as const;

describe.each(forms)('a P-256 certificate whose public key is written %s (Go cannot parse it)', (form) => {
  const { keyPath, certPath } = opensslPair(`p256-${form}`, form);
  const text = execFileSync('openssl', ['x509', '-in', certPath, '-noout', '-text']).toString();

  test('precondition: the certificate really is encoded so', () => {
    if (form === 'explicit') expect(text).toMatch(/Field Type: prime-field/);
    else expect(text).toMatch(/pub:\s*\n\s*0[23]:/);
  });

  test('loading the config refuses it, naming token.key or token.certificate', () => {
    const yaml = `token:\n  issuer: acme\n  key: ${keyPath}\n  certificate: ${certPath}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`;
    let error: unknown;
    try {
      loadConfigText(yaml, { file: join(tmp.dir, `config-${form}.yml`) });
    } catch (err) {
      error = err;
    }
    expect(error, 'the config loaded: regauth would sign with a key the registry cannot parse').toBeDefined();
    expect(String((error as Error).message) + JSON.stringify(error)).toMatch(/token\.(key|certificate)/);
  });

  test('doctor: a rootcertbundle holding it is a finding (the registry refuses to start)', async () => {
    // regauth signs with a normal key; the registry's bundle holds its certificate and this one.
    const good = join(tmp.dir, `good-${form}`);
    execFileSync('mkdir', ['-p', good]);
    const goodKey = join(good, 'token.key');
    const goodCert = join(good, 'token.pem');
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', goodKey]);
    execFileSync('openssl', [
      'req',
      '-new',
      '-x509',
      '-key',
      goodKey,
      '-subj',
      '/CN=t',
      '-days',
      '365',
      '-out',
      goodCert,
    ]);
    const config = join(good, 'config.yml');
    writeFileSync(
      config,
      `token: {issuer: acme, key: ${goodKey}, certificate: ${goodCert}}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`,
    );
    const bundle = join(good, 'bundle.pem');
    writeFileSync(bundle, readFileSync(goodCert, 'utf8') + readFileSync(certPath, 'utf8'));
    const registry = join(good, 'registry.yml');
    writeFileSync(
      registry,
      `version: 0.1\nauth:\n  token:\n    realm: https://auth.example.com/auth/token\n    service: registry.test\n    issuer: acme\n    rootcertbundle: ${bundle}\n`,
    );
    const run = await regauth(['doctor', '-c', config, '--registry-config', registry]);
    expect(run.stdout).toMatch(/^FAIL rootcertbundle:/m);
    expect(run.code).toBe(1);
  });
});
