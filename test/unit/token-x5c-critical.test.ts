import { expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import { peculiarSelfSigned, x5cLoadError } from '../helpers/x5c.js';

// docs/registry-compatibility.md "x5c chains": regauth checks at load what Go's verification
// refuses. A certificate with a critical extension Go does not handle loaded, and the registry
// refused every token signed with x5c ("unhandled critical extension"). Found by a review.

/**
 * A self-signed P-256 certificate for a fresh key, as `keys init` makes one, plus a critical
 * extension of an OID nobody implements. Go's x509 (the registry verifying `x5c`) refuses any
 * certificate with an unhandled critical extension (verify.go isValid: UnhandledCriticalExtension),
 * the leaf included, so every token carrying it in x5c is refused.
 */
const withCriticalExtension = () =>
  peculiarSelfSigned('odd extension', async (x509) => [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.Extension('1.3.6.1.4.1.55555.1.2', true, new Uint8Array([0x05, 0x00])),
  ]);

test('with x5c, a certificate carrying an unknown critical extension (which Go refuses) is refused at load', async () => {
  const error = x5cLoadError(await withCriticalExtension());
  expect(error).toBeInstanceOf(RegauthError);
  expect((error as RegauthError).code).toBe('ERR_KEY');
});
