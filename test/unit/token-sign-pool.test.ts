import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { Piscina } from 'piscina';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { MAX_BATCH, signJws } from '../../src/token/sign-pool.js';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const EC_KEY = { key: ec.privateKey, dsaEncoding: 'ieee-p1363' as const };
const RSA_KEY = { key: rsa.privateKey };

/** Whether `jws` is `input.signature` with a signature of `input` by `publicKey`. */
function signs(jws: string, input: string, publicKey: KeyObject, dsaEncoding?: 'ieee-p1363'): boolean {
  if (!jws.startsWith(`${input}.`)) return false;
  const signature = Buffer.from(jws.slice(input.length + 1), 'base64url');
  return verify(
    'sha256',
    Buffer.from(input),
    { key: publicKey, ...(dsaEncoding ? { dsaEncoding } : {}) },
    signature,
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('signJws: the signatures of one event-loop turn go to a worker together', () => {
  test('every signature of a burst is its own input’s, in whichever batch it travelled', async () => {
    const inputs = Array.from({ length: 3 * MAX_BATCH + 5 }, (_, i) => `header.claims-${i}`);
    const tokens = await Promise.all(inputs.map((input) => signJws('sha256', EC_KEY, input)));
    tokens.forEach((jws, i) => {
      expect(signs(jws, inputs[i]!, ec.publicKey, 'ieee-p1363')).toBe(true);
      // A signature that verifies for another input would say the batch was answered out of order.
      expect(
        signs(
          jws.replace(inputs[i]!, inputs[(i + 1) % inputs.length]!),
          inputs[(i + 1) % inputs.length]!,
          ec.publicKey,
          'ieee-p1363',
        ),
      ).toBe(false);
    });
  });

  test('one task per MAX_BATCH signatures of a turn, not one per signature', async () => {
    const run = vi.spyOn(Piscina.prototype, 'run');
    const count = 2 * MAX_BATCH + 1;
    await Promise.all(Array.from({ length: count }, (_, i) => signJws('sha256', EC_KEY, `h.c${i}`)));
    expect(run).toHaveBeenCalledTimes(3);
    // The next turn starts a batch of its own.
    await signJws('sha256', EC_KEY, 'h.later');
    expect(run).toHaveBeenCalledTimes(4);
  });

  test('keys asked for in the same turn are batched apart, each signature by its own key', async () => {
    const [a, b, c] = await Promise.all([
      signJws('sha256', EC_KEY, 'h.ec-1'),
      signJws('sha256', RSA_KEY, 'h.rsa'),
      signJws('sha256', EC_KEY, 'h.ec-2'),
    ]);
    expect(signs(a, 'h.ec-1', ec.publicKey, 'ieee-p1363')).toBe(true);
    expect(signs(b, 'h.rsa', rsa.publicKey)).toBe(true);
    expect(signs(c, 'h.ec-2', ec.publicKey, 'ieee-p1363')).toBe(true);
  });

  test('a key that cannot sign rejects its own batch only', async () => {
    const bad = signJws('sha256', { key: ec.publicKey }, 'h.bad');
    const good = signJws('sha256', EC_KEY, 'h.good');
    await expect(bad).rejects.toThrow(/private/i);
    expect(signs(await good, 'h.good', ec.publicKey, 'ieee-p1363')).toBe(true);
    // The pool still signs afterwards.
    expect(signs(await signJws('sha256', EC_KEY, 'h.after'), 'h.after', ec.publicKey, 'ieee-p1363')).toBe(
      true,
    );
  });
});
