import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { tempDir } from '../helpers/fixtures.js';

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

function selfSigned(name: string, extensions: string): { keyPem: string; certPem: string } {
  const keyPath = join(tmp.dir, `${name}.key`);
  const certPath = join(tmp.dir, `${name}.pem`);
  const conf = join(tmp.dir, `${name}.cnf`);
  writeFileSync(
    conf,
    '[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = ext\n[dn]\nCN = token signer\n' +
      `[ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n${extensions}\n` +
      '[dir]\nO = Example\nCN = token signer\n',
  );
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
    '-config',
    conf,
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

test('with x5c, a certificate whose critical subject alternative name holds no name Go parses (a directoryName only) is refused at load', () => {
  const error = loadError(selfSigned('san', 'subjectAltName = critical,dirName:dir'));
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});

test('with x5c, a certificate whose critical name constraints hold a directoryName subtree (unhandled in Go) is refused at load', () => {
  const error = loadError(selfSigned('nc', 'nameConstraints = critical,permitted;dirName:dir'));
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});
