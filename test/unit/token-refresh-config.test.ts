import { EVERY_ACCOUNT } from '../../src/core/schema.js';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigText, type LoadOptions } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { revokedBefore } from '../../src/token/refresh.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir();
let keyLines = '';
const secretValue = randomBytes(48).toString('base64');
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  keyLines = `  key: ${keyPath}\n  certificate: ${certPath}\n`;
  writeFileSync(join(tmp.dir, 'refresh.key'), `${secretValue}\n`);
  writeFileSync(join(tmp.dir, 'short.key'), 'too short\n');
});
afterAll(() => tmp.cleanup());

const load = (refresh: string, options: LoadOptions = {}) =>
  loadConfigText(`token:\n  issuer: x\n${keyLines}${refresh}`, {
    ...options,
    file: join(tmp.dir, 'config.yml'),
  });

function errorsOf(refresh: string, options: LoadOptions = {}): string[] {
  try {
    load(refresh, options);
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.message);
    throw err;
  }
  throw new Error('config loaded without error');
}

describe('token.refresh', () => {
  test('absent: refresh tokens disabled', () => {
    expect(load('').token.refresh).toBeUndefined();
  });

  test.each([
    ['{} with a secret_file (relative to the config)', '  refresh: {secret_file: refresh.key}\n'],
    [
      'empty mapping under refresh: reads as enabled with defaults',
      '  refresh:\n    secret_file: refresh.key\n',
    ],
  ])('%s', (_what, yaml) => {
    const refresh = load(yaml).token.refresh!;
    expect(refresh.expiration).toBe(7_776_000);
    expect(refresh.secret.reveal()).toBe(secretValue);
    expect(String(refresh.secret)).toBe('***');
    expect(refresh.secretFile).toBe(join(tmp.dir, 'refresh.key'));
    expect(refresh.revokeBefore.size).toBe(0);
  });

  test('`refresh:` with nothing under it, in development: the dev secret, default expiration', () => {
    const refresh = load('  refresh:\n', { devRefreshSecret: () => join(tmp.dir, 'refresh.key') }).token
      .refresh!;
    expect(refresh.expiration).toBe(7_776_000);
    expect(refresh.secret.reveal()).toBe(secretValue);
  });

  test('expiration with units, 0 = never; revoke_before in unix seconds', () => {
    const refresh = load(
      `  refresh:\n    secret_file: refresh.key\n    expiration: 30d\n    revoke_before:\n      alice: "2026-11-22T10:00:00Z"\n      "*": "2026-11-22T12:00:00+02:00"\n`,
    ).token.refresh!;
    expect(refresh.expiration).toBe(30 * 86_400);
    expect([...refresh.revokeBefore]).toEqual([
      ['alice', Date.parse('2026-11-22T10:00:00Z') / 1000],
      [EVERY_ACCOUNT, Date.parse('2026-11-22T10:00:00Z') / 1000],
    ]);
    expect(load('  refresh: {secret_file: refresh.key, expiration: 0}\n').token.refresh!.expiration).toBe(0);
  });

  test('revoke_before matches account names as the lockout folds them (case, NFKC, spaces)', () => {
    const refresh = load(
      `  refresh:\n    secret_file: refresh.key\n    revoke_before:\n      mallory@example.test: "2026-11-22T10:00:00Z"\n      "ＭＡＬＬＯＲＹ@example.test ": "2026-11-22T11:00:00Z"\n      Bob: "2026-11-22T09:00:00Z"\n`,
    ).token.refresh!;
    const at = (iso: string) => Date.parse(iso) / 1000;
    // The identity provider's spelling of the account still hits the entry; of two spellings, the later time.
    expect(revokedBefore(refresh.revokeBefore, 'Mallory@Example.test')).toBe(at('2026-11-22T11:00:00Z'));
    expect(revokedBefore(refresh.revokeBefore, 'mallory@example.test')).toBe(at('2026-11-22T11:00:00Z'));
    expect(revokedBefore(refresh.revokeBefore, 'bob')).toBe(at('2026-11-22T09:00:00Z'));
    expect(revokedBefore(refresh.revokeBefore, 'alice')).toBeUndefined();
  });

  test('the secret file is watched for reload', () => {
    expect(load('  refresh: {secret_file: refresh.key}\n').files).toContain(join(tmp.dir, 'refresh.key'));
  });

  test.each([
    [
      'unknown key',
      '  refresh: {secret_file: refresh.key, rotate: true}\n',
      'token.refresh.rotate: unknown key; expected one of expiration, secret_file, revoke_before',
    ],
    [
      'bad expiration',
      '  refresh: {secret_file: refresh.key, expiration: "forever"}\n',
      'token.refresh.expiration: invalid duration "forever"; use seconds or e.g. "90d" (0 = never expire)',
    ],
    [
      'revoke_before without a zone',
      '  refresh:\n    secret_file: refresh.key\n    revoke_before: {alice: "2026-11-22T10:00:00"}\n',
      'token.refresh.revoke_before.alice: invalid time "2026-11-22T10:00:00"; use RFC 3339 with a zone, e.g. "2026-11-22T10:00:00Z"',
    ],
    [
      'a short secret',
      '  refresh: {secret_file: short.key}\n',
      'token.refresh.secret_file: the file it names holds 9 characters; at least 32 are needed (e.g. `openssl rand -base64 48`)',
    ],
    [
      'a missing secret file',
      '  refresh: {secret_file: nope.key}\n',
      'token.refresh.secret_file: cannot read the file it names (ENOENT); it must name a file that holds the secret, not the secret itself',
    ],
    [
      'no secret_file outside `serve`',
      '  refresh: {}\n',
      'token.refresh.secret_file: required; `regauth serve` creates a development secret in ./data when it is absent',
    ],
  ])('%s', (_what, yaml, message) => {
    expect(errorsOf(yaml)).toEqual([message]);
  });
});

// Found by a review of the refresh tokens: Date.parse rolls a day past the month's end over
// (2026-02-30 was 2 March), so a typo revoked later than meant and said nothing. Go's time.Parse,
// which docker_auth's users would know, refuses such a date.
test.each([
  ['2026-02-30T10:00:00Z'],
  ['2026-02-29T10:00:00Z'],
  ['2026-04-31T10:00:00+02:00'],
  ['2026-01-01T24:00:00Z'],
  ['2026-01-01T10:00:00+24:00'],
])('revoke_before: %s, a day or time that does not exist, is refused', (when) => {
  expect(
    errorsOf(`  refresh:\n    secret_file: refresh.key\n    revoke_before:\n      alice: "${when}"\n`),
  ).toEqual([
    `token.refresh.revoke_before.alice: invalid time "${when}": no such day or time of day; use RFC 3339 with a zone, e.g. "2026-11-22T10:00:00Z"`,
  ]);
});

test('revoke_before: 29 February of a leap year, and 23:59:59, are times', () => {
  const refresh = load(
    `  refresh:\n    secret_file: refresh.key\n    revoke_before:\n      alice: "2028-02-29T23:59:59-01:30"\n`,
  ).token.refresh!;
  expect([...refresh.revokeBefore]).toEqual([['alice', Date.parse('2028-03-01T01:29:59Z') / 1000]]);
});
