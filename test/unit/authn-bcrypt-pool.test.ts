import bcrypt from 'bcryptjs';
import { afterAll, describe, expect, test } from 'vitest';
import { bcryptPoolVerifier } from '../../src/authn/bcrypt-pool.js';
import { Secret } from '../../src/secret.js';
import { randomPassword } from '../helpers/fixtures.js';

const verifier = bcryptPoolVerifier(4);
afterAll(() => verifier.close());

const password = randomPassword();
const hashes = {
  $2a$: bcrypt.hashSync(password, 4).replace(/^\$2b\$/, '$2a$'),
  $2b$: bcrypt.hashSync(password, 4),
  $2y$: bcrypt.hashSync(password, 4).replace(/^\$2b\$/, '$2y$'),
};

describe('bcrypt in the worker pool', () => {
  test.each([
    ['the right password', '$2y$', password, true],
    ['the right password', '$2a$', password, true],
    ['the right password', '$2b$', password, true],
    ['a wrong password', '$2y$', `${password}x`, false],
    ['an empty password', '$2y$', '', false],
  ] as const)('%s against a %s hash → %s', async (_what, kind, given, expected) => {
    expect(await verifier.verify(new Secret(given), hashes[kind])).toBe(expected);
  });

  test('burn spends a comparison and resolves, with or without a password', async () => {
    await expect(verifier.burn(new Secret('anything'))).resolves.toBeUndefined();
    await expect(verifier.burn(undefined)).resolves.toBeUndefined();
  });

  test('the event loop keeps running while 4 cost-12 comparisons run', async () => {
    const slow = bcrypt.hashSync(password, 12);
    const order: string[] = [];
    const comparisons = Array.from({ length: 4 }, () =>
      verifier.verify(new Secret(password), slow).then((ok) => order.push(`compare:${ok}`)),
    );
    // On the main thread a cost-12 comparison would hold the loop for hundreds of ms;
    // in the pool, a timer and an immediate run before any comparison settles.
    setTimeout(() => order.push('timer'), 1);
    setImmediate(() => order.push('immediate'));
    await Promise.all(comparisons);
    expect(order.slice(0, 2).sort()).toEqual(['immediate', 'timer']);
    expect(order.slice(2)).toEqual(Array(4).fill('compare:true'));
  });

  test('verifiers share one pool; it keeps working while any lease is held', async () => {
    const second = bcryptPoolVerifier(4);
    await second.close();
    await second.close(); // twice is harmless
    expect(await verifier.verify(new Secret(password), hashes.$2y$)).toBe(true);
    const third = bcryptPoolVerifier(4);
    expect(await third.verify(new Secret(password), hashes.$2y$)).toBe(true);
    await third.close();
  });
});
