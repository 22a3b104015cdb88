import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { tempDir } from '../helpers/fixtures.js';

// Go's crypto/x509 (parser.go processExtensions) parses subject alternative names and name
// constraints whether or not they are critical, and fails ParseCertificate on a malformed one
// ("x509: invalid subject alternative names") or on name constraints with no subtree
// ("x509: empty name constraints extension"): the registry then refuses every x5c token, and
// dropping the critical mark changes nothing. d41453b reads only critical ones, takes empty
// name constraints as handled ([].every), and reports a malformed one as "marked critical ...
// remove the mark". Found by a review of d41453b.

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function selfSigned(name: string, extension: string): { keyPem: string; certPem: string } {
  const keyPath = join(tmp.dir, `${name}.key`);
  const certPath = join(tmp.dir, `${name}.pem`);
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
    '/CN=token signer',
    '-addext',
    extension,
  ]);
  return { keyPem: readFileSync(keyPath, 'utf8'), certPem: readFileSync(certPath, 'utf8') };
}

function loadError({ keyPem, certPem }: { keyPem: string; certPem: string }): unknown {
  try {
    loadSigningKey({ keyPem, certPem, x5c: true, kidFormat: 'libtrust', certPath: '/k/token.pem' });
    return undefined;
  } catch (err) {
    return err;
  }
}

test('with x5c, a certificate whose critical name constraints hold no subtree (Go: "empty name constraints extension") is refused at load', () => {
  const error = loadError(selfSigned('nc-empty', '2.5.29.30=critical,DER:3000'));
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});

test('with x5c, a malformed critical subject alternative name is reported as malformed, naming the file, not as a mark to remove', () => {
  const error = loadError(selfSigned('san-null-critical', '2.5.29.17=critical,DER:0500'));
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
  expect((error as Error).message).toContain('/k/token.pem');
  expect((error as Error).message).toMatch(/malformed|cannot be parsed|cannot parse|invalid/i);
  expect((error as Error).message).not.toMatch(/remove the mark/);
});

test('with x5c, a malformed subject alternative name that is not critical (Go cannot parse the certificate) is refused at load', () => {
  const error = loadError(selfSigned('san-null', '2.5.29.17=DER:0500'));
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});
