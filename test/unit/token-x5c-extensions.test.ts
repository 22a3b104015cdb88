/**
 * docs/registry-compatibility.md "x5c chains": what Go's crypto/x509 refuses is refused at load,
 * and what it accepts loads. Go refuses to parse a certificate holding the same extension twice
 * ("certificate contains duplicate extension"), critical or not, so the registry refuses every x5c
 * token signed with it; regauth loaded such a certificate. Found by a review, as was the policy
 * case below.
 */
import { expect, test } from 'vitest';
import { RegauthError } from '../../src/core/errors.js';
import { loadWithX5c, peculiarSelfSigned, type KeyPair } from '../helpers/x5c.js';

/** A self-signed certificate whose extensions are `extensions` (raw OID, DER value), not critical. */
const withExtensions = (extensions: readonly (readonly [string, readonly number[]])[]) =>
  peculiarSelfSigned('duplicate extension', async (x509) =>
    extensions.map(([oid, der]) => new x509.Extension(oid, false, new Uint8Array(der))),
  );

const load = (pair: KeyPair) => () => loadWithX5c(pair);

// SEQUENCE { [2] "a.example.com" }, and the same with "b.example.com".
const SAN_A = [0x30, 0x0f, 0x82, 0x0d, ...Buffer.from('a.example.com')];
const SAN_B = [0x30, 0x0f, 0x82, 0x0d, ...Buffer.from('b.example.com')];

test('with x5c, a certificate holding the same extension twice is refused at load', async () => {
  for (const extensions of [
    [
      ['2.5.29.17', SAN_A],
      ['2.5.29.17', SAN_B],
    ],
    [
      ['1.2.3.4.5', [0x05, 0x00]],
      ['1.2.3.4.5', [0x0c, 0x01, 0x78]],
    ],
  ] as const) {
    const attempt = load(await withExtensions(extensions));
    expect(attempt).toThrow(RegauthError);
    expect(attempt).toThrow(
      /\/k\/token\.pem: certificate #1 \(CN=duplicate extension\) has the extension [\d.]+ twice/,
    );
  }
  // One of each loads.
  expect(
    load(
      await withExtensions([
        ['2.5.29.17', SAN_A],
        ['1.2.3.4.5', [0x05, 0x00]],
      ]),
    ),
  ).not.toThrow();
});

// RFC 5280 has a CA mark policy constraints and inhibit any policy critical, and registry 3's Go
// handles them (registry 2.8's does not: docs/registry-compatibility.md "x5c chains"). 5492ece
// refused them at load, so a chain from such a CA, which registry 3 accepts, did not load.
test('with x5c, the policy extensions a CA marks critical load', async () => {
  const pair = await peculiarSelfSigned('policy extensions', async (x509) => [
    // policyConstraints { requireExplicitPolicy 0 }, inhibitAnyPolicy 0
    new x509.Extension('2.5.29.36', true, new Uint8Array([0x30, 0x03, 0x80, 0x01, 0x00])),
    new x509.Extension('2.5.29.54', true, new Uint8Array([0x02, 0x01, 0x00])),
  ]);
  expect(load(pair)).not.toThrow();
});
