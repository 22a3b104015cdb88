/**
 * Found by a review of the lockout: `forget_after` is how long a pair's count is kept after its
 * last failure, and the lock a failure sets doubles up to `max_backoff`. With `forget_after`
 * shorter than the lock, the count is forgotten before the lock ends: the client gets
 * `max_failures` fresh guesses when it ends, and the lock never grows past `forget_after`, which
 * the config took without a word (and `forget_after` is also the account cap's window, an easy
 * one to shorten). `regauth validate` now says so.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { TooManyRequestsError } from '../../src/core/errors.js';
import { Lockout } from '../../src/guard/lockout.js';
import { lintConfig } from '../../src/tools/lint.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { LOCKOUT_POLICY } from '../helpers/lockout.js';

const tmp = tempDir('regauth-lint-forget-after-');
let head = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  head = `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\nusers: {"": {}}\nacl: [{match: {}, actions: [pull]}]\n`;
});
afterAll(() => tmp.cleanup());

const warnings = (lockout: string) =>
  lintConfig(loadConfigText(`${head}lockout: {${lockout}}\n`, { file: join(tmp.dir, 'config.yml') })).map(
    (w) => `${w.path}: ${w.message}`,
  );

test('forget_after shorter than max_backoff: validate says the locks stop growing there', () => {
  expect(warnings('forget_after: 60, max_backoff: 300')).toEqual([
    "lockout.forget_after: 60 s is shorter than max_backoff (300 s): a pair's count is forgotten before a longer lock ends, so locks never grow past 60 s and each one ends with max_failures fresh guesses; make it at least max_backoff",
  ]);
});

test('the defaults, forget_after at least max_backoff, and a lockout turned off draw no such warning', () => {
  expect(warnings('max_failures: 5')).toEqual([]);
  expect(warnings('forget_after: 300, max_backoff: 300')).toEqual([]);
  expect(warnings('enabled: false, forget_after: 60, max_backoff: 300')).toEqual([]);
});

test('what the warning says: a lock longer than forget_after ends with the count forgotten', async () => {
  const clock = { now: 1_000_000 };
  const policy = { ...LOCKOUT_POLICY, max_failures: 1, backoff: 100, max_backoff: 400, forget_after: 150 };
  const lockout = new Lockout({ maxEntries: 100, policy: () => policy, now: () => clock.now });
  const waitOf = () =>
    lockout.check('alice', '192.0.2.1').then(
      () => 0,
      (err: unknown) => (err as TooManyRequestsError).retryAfterSeconds,
    );
  await lockout.failure('alice', '192.0.2.1');
  expect(await waitOf()).toBe(100);
  clock.now += 101_000;
  await lockout.failure('alice', '192.0.2.1');
  expect(await waitOf()).toBe(200);
  // The 200 s lock outlives forget_after (150 s): the next failure starts the count anew.
  clock.now += 201_000;
  await lockout.failure('alice', '192.0.2.1');
  expect(await waitOf()).toBe(100);
});
