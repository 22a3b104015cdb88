import { afterAll, expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/fixtures.js';
import { opensslSelfSigned, x5cLoadError } from '../helpers/x5c.js';

// Go's crypto/x509 (parser.go processExtensions) parses subject alternative names and name
// constraints whether or not they are critical, and fails ParseCertificate on a malformed one
// ("x509: invalid subject alternative names") or on name constraints with no subtree
// ("x509: empty name constraints extension"): the registry then refuses every x5c token, and
// dropping the critical mark changes nothing. d41453b reads only critical ones, takes empty
// name constraints as handled ([].every), and reports a malformed one as "marked critical ...
// remove the mark". Found by a review of d41453b.

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const selfSigned = (name: string, extension: string) => opensslSelfSigned(tmp.dir, name, extension);

test('with x5c, a certificate whose critical name constraints hold no subtree (Go: "empty name constraints extension") is refused at load', () => {
  const error = x5cLoadError(selfSigned('nc-empty', '2.5.29.30=critical,DER:3000'));
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});

test('with x5c, a malformed critical subject alternative name is reported as malformed, naming the file, not as a mark to remove', () => {
  const error = x5cLoadError(selfSigned('san-null-critical', '2.5.29.17=critical,DER:0500'));
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
  expect((error as Error).message).toContain('/k/token.pem');
  expect((error as Error).message).toMatch(/malformed|cannot be parsed|cannot parse|invalid/i);
  expect((error as Error).message).not.toMatch(/remove the mark/);
});

test('with x5c, a malformed subject alternative name that is not critical (Go cannot parse the certificate) is refused at load', () => {
  const error = x5cLoadError(selfSigned('san-null', '2.5.29.17=DER:0500'));
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});
