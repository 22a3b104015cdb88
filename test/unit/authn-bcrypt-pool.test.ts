import bcrypt from 'bcryptjs';
import { afterAll, describe, expect, test } from 'vitest';
import { bcryptPoolVerifier } from '../../src/authn/bcrypt-pool.js';
import { Secret } from '../../src/core/secret.js';
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

  test("a wrong password against a cheaper hash costs a comparison at the verifier's cost; a right one does not", async () => {
    const top = bcryptPoolVerifier(9);
    try {
      const cheap = bcrypt.hashSync(password, 4);
      // CPU time of this process (the pool's threads included), not wall time: on a machine
      // busy with other test processes a comparison waits for a core, but costs the same CPU.
      const time = async (run: () => Promise<unknown>) => {
        const started = process.cpuUsage();
        await run();
        const spent = process.cpuUsage(started);
        return spent.user + spent.system;
      };
      const wrong: number[] = [];
      const burned: number[] = [];
      const right: number[] = [];
      for (let i = 0; i < 12; i++) {
        wrong.push(await time(() => top.verify(new Secret('wrong'), cheap)));
        burned.push(await time(() => top.burn(new Secret('wrong'))));
        right.push(await time(() => top.verify(new Secret(password), cheap)));
      }
      // The least of many runs is the work itself (a collection or a cold cache only ever add
      // to it), so the minimum stays steady where a median of a few runs does not.
      const fastest = (v: number[]) => Math.min(...v);
      // Without padding a cost-4 comparison is 32 times cheaper than one at cost 9.
      expect(fastest(wrong) / fastest(burned)).toBeGreaterThan(0.6);
      expect(fastest(wrong) / fastest(burned)).toBeLessThan(1.6);
      expect(fastest(right)).toBeLessThan(fastest(burned) / 4);
    } finally {
      await top.close();
    }
  });

  test('the decoy hash is made with the verifier: the first made-up account costs one comparison, as a known one does', async () => {
    // Otherwise the first made-up account after each start or reload also made the decoy (a
    // bcrypt hash at the cost): twice a known account's time, telling once which names exist.
    const cost = 8;
    const known = bcrypt.hashSync(password, cost);
    const fresh = bcryptPoolVerifier(cost);
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      const cpu = async (run: () => Promise<unknown>) => {
        const started = process.cpuUsage();
        await run();
        const spent = process.cpuUsage(started);
        return spent.user + spent.system;
      };
      // Every pool thread compares once first: a thread's first comparison runs bcryptjs before
      // V8 has compiled it (2 to 3 times slower), whichever task it is, and the burn may land on
      // a thread that has not compared yet. What is measured is whether the burn makes the hash.
      await Promise.all(Array.from({ length: 4 }, () => fresh.verify(new Secret('warm'), known)));
      const first = await cpu(() => fresh.burn(new Secret('made-up')));
      const wrong: number[] = [];
      for (let i = 0; i < 5; i++) wrong.push(await cpu(() => fresh.verify(new Secret('wrong'), known)));
      expect(first / Math.min(...wrong)).toBeLessThan(1.5);
    } finally {
      await fresh.close();
    }
  });

  test('without a cost (no hash configured) burn spends nothing', async () => {
    const none = bcryptPoolVerifier(undefined);
    const started = performance.now();
    for (let i = 0; i < 20; i++) await none.burn(new Secret('x'));
    expect(performance.now() - started).toBeLessThan(200);
    await none.close();
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
