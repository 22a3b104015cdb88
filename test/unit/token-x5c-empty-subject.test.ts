import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { loadSigningKey } from '../../src/token/keys.js';
import { tempDir } from '../helpers/fixtures.js';

// RFC 5280 4.2.1.6: a certificate with an empty subject carries its names in a critical
// subject alternative name, the very shape d41453b reasons about. Go handles a critical SAN of
// DNS names, so the registry accepts such a chain; regauth's load must too. On Node 20
// X509Certificate.subject is undefined for an empty subject, and checkValidity's
// `cert.subject.replace` threw a TypeError (not even an ERR_KEY). Found by a review.

const tmp = tempDir();
afterAll(() => tmp.cleanup());

test('with x5c, a certificate with an empty subject and a critical subject alternative name of DNS names loads', () => {
  const keyPath = join(tmp.dir, 'k.key');
  const certPath = join(tmp.dir, 'k.pem');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyPath]);
  execFileSync('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    keyPath,
    '-out',
    certPath,
    '-days',
    '1',
    '-subj',
    '/',
    '-addext',
    'subjectAltName=critical,DNS:token.example.org',
  ]);
  const load = () =>
    loadSigningKey({
      keyPem: readFileSync(keyPath, 'utf8'),
      certPem: readFileSync(certPath, 'utf8'),
      x5c: true,
      kidFormat: 'libtrust',
      certPath: '/k/token.pem',
    });
  expect(load).not.toThrow();
});
