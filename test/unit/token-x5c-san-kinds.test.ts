import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { loadWithX5c, opensslSelfSigned } from '../helpers/x5c.js';

// Go's forEachSAN (crypto/x509/parser.go) reads each GeneralName as a bare tag and value and
// ignores the kinds it does not use (x400Address [3], ediPartyName [5]): a SAN that holds one of
// them next to a DNS name parses, and the certificate verifies. goReads parses the SAN with
// @peculiar/asn1-x509, whose GeneralName schema cannot decode these (ediPartyName is declared
// EXPLICIT; x400Address is refused), so the catch turns them into 'malformed' and a certificate
// Go accepts was refused at load (a regression of 42c2cf0). The SAN is now read as Go reads it.
// Found by a review of that change.

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const selfSigned = (name: string, extension: string) => opensslSelfSigned(tmp.dir, name, extension);

test('with x5c, a certificate whose SAN holds an ediPartyName next to a DNS name (Go ignores the ediPartyName) loads', () => {
  // SEQUENCE { [5] { [1] UTF8String "x" }, [2] "a" }
  expect(() => loadWithX5c(selfSigned('edi', 'subjectAltName = DER:300AA505A1030C0178820161'))).not.toThrow();
});

test('with x5c, a certificate whose SAN holds an x400Address next to a DNS name (Go ignores the x400Address) loads', () => {
  // SEQUENCE { [3] { SEQUENCE {} }, [2] "a" }
  expect(() => loadWithX5c(selfSigned('x400', 'subjectAltName = DER:3007A30230008201' + '61'))).not.toThrow();
});
