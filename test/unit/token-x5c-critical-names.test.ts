import { afterAll, expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/fixtures.js';
import { opensslSelfSigned, x5cLoadError } from '../helpers/x5c.js';

// docs/registry-compatibility.md "x5c chains": a certificate with an extension marked critical
// that Go does not accept is refused at load. 355dea6 kept subject alternative names and name
// constraints as always accepted when critical, but Go's processExtensions (crypto/x509/parser.go)
// records either as an UnhandledCriticalExtension, and Verify then refuses the chain (every
// token), when a critical SAN holds no DNS, email, IP or URI name (only a directoryName or
// otherName, as RFC 5280 4.2.1.6 asks for a certificate with an empty subject), or a critical
// name constraints extension holds a subtree of another type (directoryName). Found by a review
// of 355dea6.

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** The certificate `openssl req -x509` makes with `extension`, beside critical basic constraints and key usage. */
const selfSigned = (name: string, extension: string) =>
  opensslSelfSigned(
    tmp.dir,
    name,
    `basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n${extension}`,
    { sections: '[dir]\nO = Example\nCN = token signer\n' },
  );

test('with x5c, a certificate whose critical subject alternative name holds no name Go parses (a directoryName only) is refused at load', () => {
  const error = x5cLoadError(selfSigned('san', 'subjectAltName = critical,dirName:dir'));
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});

test('with x5c, a certificate whose critical name constraints hold a directoryName subtree (unhandled in Go) is refused at load', () => {
  const error = x5cLoadError(selfSigned('nc', 'nameConstraints = critical,permitted;dirName:dir'));
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});
