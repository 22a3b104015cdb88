import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { Piscina } from 'piscina';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { createTokenSigner } from '../../src/token/sign.js';
import { MAX_BATCH, signJws, type SignJob } from '../../src/token/sign-pool.js';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const EC_KEY = { key: ec.privateKey, dsaEncoding: 'ieee-p1363' as const };
const EC: SignJob = { hash: 'sha256', key: EC_KEY, maxBatch: MAX_BATCH };
const RSA: SignJob = { hash: 'sha256', key: { key: rsa.privateKey }, maxBatch: 1 };

/** Whether `jws` is `input.signature` with a signature of `input` by `publicKey`. */
function signs(
  jws: string,
  input: string,
  publicKey: KeyObject,
  options: { hash?: string; dsaEncoding?: 'ieee-p1363' } = { dsaEncoding: 'ieee-p1363' },
): boolean {
  if (!jws.startsWith(`${input}.`)) return false;
  const signature = Buffer.from(jws.slice(input.length + 1), 'base64url');
  const key = { key: publicKey, ...(options.dsaEncoding ? { dsaEncoding: options.dsaEncoding } : {}) };
  return verify(options.hash ?? 'sha256', Buffer.from(input), key, signature);
}

/** Makes the next run() throw at once, as piscina does when no thread can be started. */
function failNextRun(): void {
  vi.spyOn(Piscina.prototype, 'run').mockImplementationOnce(() => {
    throw new Error('ERR_WORKER_INIT_FAILED');
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('signJws: the signatures of one event-loop turn go to a worker together', () => {
  test('every signature of a burst is its own input’s, in whichever batch it travelled', async () => {
    const inputs = Array.from({ length: 3 * MAX_BATCH + 5 }, (_, i) => `header.claims-${i}`);
    const tokens = await Promise.all(inputs.map((input) => signJws(EC, input)));
    tokens.forEach((jws, i) => expect(signs(jws, inputs[i]!, ec.publicKey)).toBe(true));
  });

  test('one task per MAX_BATCH signatures of a turn, not one per signature', async () => {
    const run = vi.spyOn(Piscina.prototype, 'run');
    const count = 2 * MAX_BATCH + 1;
    await Promise.all(Array.from({ length: count }, (_, i) => signJws(EC, `h.c${i}`)));
    expect(run).toHaveBeenCalledTimes(3);
    // The next turn starts a batch of its own.
    await signJws(EC, 'h.later');
    expect(run).toHaveBeenCalledTimes(4);
  });

  test('a slow key’s signatures go one per task, so the threads share a burst', async () => {
    const run = vi.spyOn(Piscina.prototype, 'run');
    const tokens = await Promise.all([0, 1, 2].map((i) => signJws(RSA, `h.rsa-${i}`)));
    expect(run).toHaveBeenCalledTimes(3);
    tokens.forEach((jws, i) => expect(signs(jws, `h.rsa-${i}`, rsa.publicKey, {})).toBe(true));
  });

  test.each([
    ['ES256', 1],
    ['RS256', 3],
    ['ES384', 3],
    ['ES512', 3],
  ] as const)('the signer of an %s key sends 3 tokens of one turn in %i task(s)', async (alg, tasks) => {
    const material = await generateSigningMaterial({ alg, commonName: alg, validDays: 1 });
    const key = loadSigningKey({ ...material, x5c: false, kidFormat: 'libtrust' });
    const sign = createTokenSigner(key, 'issuer');
    const run = vi.spyOn(Piscina.prototype, 'run');
    const now = Math.floor(Date.now() / 1000);
    await Promise.all([0, 1, 2].map((i) => sign({ subject: `u${i}`, audience: 'r', access: [] }, now, 60)));
    expect(run).toHaveBeenCalledTimes(tasks);
  });

  test('jobs of one turn are batched apart: each signature by its own key and hash', async () => {
    const sha512: SignJob = { ...EC, hash: 'sha512' };
    const [a, b, c, d] = await Promise.all([
      signJws(EC, 'h.ec-1'),
      signJws(RSA, 'h.rsa'),
      signJws(sha512, 'h.ec-512'),
      signJws(EC, 'h.ec-2'),
    ]);
    expect(signs(a!, 'h.ec-1', ec.publicKey)).toBe(true);
    expect(signs(b!, 'h.rsa', rsa.publicKey, {})).toBe(true);
    expect(signs(c!, 'h.ec-512', ec.publicKey, { hash: 'sha512', dsaEncoding: 'ieee-p1363' })).toBe(true);
    expect(signs(d!, 'h.ec-2', ec.publicKey)).toBe(true);
  });

  test('a pool that cannot take a full batch (no thread can start) rejects all of it, and signs later turns', async () => {
    failNextRun();
    // The MAX_BATCH-th signature sends a full batch at once; the rest go when the turn ends.
    const burst = Array.from({ length: MAX_BATCH + 2 }, (_, i) => signJws(EC, `h.burst-${i}`));
    const settled = await Promise.allSettled(burst);
    expect(settled.slice(0, MAX_BATCH).every((s) => s.status === 'rejected')).toBe(true);
    expect(settled.slice(MAX_BATCH).every((s) => s.status === 'fulfilled')).toBe(true);
    expect(signs(await signJws(EC, 'h.next'), 'h.next', ec.publicKey)).toBe(true);
  }, 5000);

  test('a batch the end of the turn cannot send is rejected whole, and nothing is left behind', async () => {
    const uncaught = vi.fn();
    process.on('uncaughtException', uncaught);
    try {
      failNextRun();
      const settled = await Promise.allSettled([signJws(EC, 'h.a'), signJws(EC, 'h.b')]);
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
      // The same job in a later turn starts a batch of its own, sent when that turn ends.
      expect(signs(await signJws(EC, 'h.later'), 'h.later', ec.publicKey)).toBe(true);
      expect(uncaught).not.toHaveBeenCalled();
    } finally {
      process.off('uncaughtException', uncaught);
    }
  }, 5000);

  test('a key that cannot sign rejects its own batch only', async () => {
    const bad = signJws({ ...EC, key: { key: ec.publicKey } }, 'h.bad');
    const good = signJws(EC, 'h.good');
    await expect(bad).rejects.toThrow(/private/i);
    expect(signs(await good, 'h.good', ec.publicKey)).toBe(true);
    // The pool still signs afterwards.
    expect(signs(await signJws(EC, 'h.after'), 'h.after', ec.publicKey)).toBe(true);
  });
});

describe('the signing thread starts with the signer', () => {
  test('making a signer starts a thread, so the first token does not wait for one', async () => {
    // Fresh modules: a pool no earlier test has started.
    vi.resetModules();
    const pool = await import('../../src/token/sign-pool.js');
    const { createTokenSigner: fresh } = await import('../../src/token/sign.js');
    expect(pool.signingThreads()).toBe(0);
    const material = await generateSigningMaterial({ alg: 'ES256', commonName: 't', validDays: 1 });
    const key = loadSigningKey({ ...material, x5c: false, kidFormat: 'libtrust' });
    const sign = fresh(key, 'issuer');
    expect(pool.signingThreads()).toBe(1);
    const token = await sign({ subject: 'alice', audience: 'registry', access: [] }, 1_700_000_000, 60);
    expect(token.split('.')).toHaveLength(3);
    expect(pool.signingThreads()).toBe(1);
  });
});
