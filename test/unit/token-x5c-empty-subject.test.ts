import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { loadWithX5c, opensslSelfSigned } from '../helpers/x5c.js';

// RFC 5280 4.2.1.6: a certificate with an empty subject carries its names in a critical
// subject alternative name, the very shape d41453b reasons about. Go handles a critical SAN of
// DNS names, so the registry accepts such a chain; regauth's load must too. On Node 20
// X509Certificate.subject is undefined for an empty subject, and checkValidity's
// `cert.subject.replace` threw a TypeError (not even an ERR_KEY). Found by a review.

const tmp = tempDir();
afterAll(() => tmp.cleanup());

test('with x5c, a certificate with an empty subject and a critical subject alternative name of DNS names loads', () => {
  const pair = opensslSelfSigned(tmp.dir, 'k', 'subjectAltName = critical,DNS:token.example.org', {
    subject: '/',
  });
  expect(() => loadWithX5c(pair)).not.toThrow();
});
