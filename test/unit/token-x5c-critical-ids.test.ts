import { webcrypto } from 'node:crypto';
import { expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import type { loadX509 } from '../../src/token/x509.js';
import { peculiarSelfSigned, x5cLoadError } from '../helpers/x5c.js';

// docs/registry-compatibility.md "x5c chains": what Go refuses is refused at load. 5492ece took
// the subject key identifier and authority information access as handled when critical, but Go's
// parser refuses a certificate where either is marked critical ("incorrectly marked critical"):
// the registry cannot even parse such an x5c certificate, and every token fails. Found by a
// review of that change.

/** A certificate with critical basic constraints and the extension `extension` makes. */
const withCritical = (
  extension: (
    x509: Awaited<ReturnType<typeof loadX509>>,
    key: webcrypto.CryptoKey,
  ) => Promise<InstanceType<Awaited<ReturnType<typeof loadX509>>['Extension']>>,
) =>
  peculiarSelfSigned('critical handled extension', async (x509, key) => [
    new x509.BasicConstraintsExtension(true, undefined, true),
    await extension(x509, key),
  ]);

test('with x5c, a certificate whose subject key identifier is marked critical (Go fails to parse it) is refused at load', async () => {
  const pair = await withCritical(async (x509, key) => {
    const ski = await x509.SubjectKeyIdentifierExtension.create(
      key,
      false,
      webcrypto as unknown as Parameters<typeof x509.SubjectKeyIdentifierExtension.create>[2],
    );
    return new x509.Extension(ski.type, true, ski.value);
  });
  const error = x5cLoadError(pair);
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});

test('with x5c, a certificate whose authority information access is marked critical (Go fails to parse it) is refused at load', async () => {
  const pair = await withCritical(async (x509) => {
    const aia = new x509.AuthorityInfoAccessExtension(
      { caIssuers: [new x509.GeneralName('url', 'http://ca.example/ca.crt')] },
      false,
    );
    return new x509.Extension(aia.type, true, aia.value);
  });
  const error = x5cLoadError(pair);
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});
