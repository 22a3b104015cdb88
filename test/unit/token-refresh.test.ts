import { EVERY_ACCOUNT } from '../../src/core/schema.js';
import { randomBytes } from 'node:crypto';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, describe, expect, test } from 'vitest';
import { InvalidGrantError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import {
  createRefreshTokens,
  ensureRefreshSecret,
  revokedBefore,
  type RefreshSettings,
} from '../../src/token/refresh.js';
import { tempDir } from '../helpers/fixtures.js';

const NOW = 1_800_000_000;
const DAY = 86_400;
const secret = () => new Secret(randomBytes(48).toString('base64'));
const settings = (over: Partial<RefreshSettings> = {}): RefreshSettings => ({
  secret: SECRET,
  expiration: 90 * DAY,
  revokeBefore: new Map(),
  ...over,
});
const SECRET = secret();
const ALICE = { account: 'alice', service: 'reg', authenticator: 'users', fingerprint: 'fp-1' };

describe('issue', () => {
  test('an opaque five-part JWE the registry cannot take for a JWS, carrying the binding', async () => {
    const codec = createRefreshTokens(settings());
    const token = await codec.issue(ALICE, NOW);
    const text = token.reveal();
    expect(text.split('.')).toHaveLength(5);
    expect(decodeProtectedHeader(text)).toEqual({ alg: 'dir', enc: 'A256GCM', typ: 'regauth-refresh+jwt' });
    // Not a readable JWT: the claims are encrypted.
    expect(() => decodeJwt(text)).toThrow();
    expect(text).not.toContain(Buffer.from('alice').toString('base64url'));
    expect(await codec.verify(token, { service: 'reg', now: NOW + 10 })).toEqual({
      ...ALICE,
      issuedAt: NOW,
      expiresAt: NOW + 90 * DAY,
    });
  });

  test('the token is a Secret: printing it never shows it', async () => {
    const token = await createRefreshTokens(settings()).issue(ALICE, NOW);
    expect(String(token)).toBe('***');
    expect(JSON.stringify({ token })).toBe('{"token":"***"}');
    expect(inspect(token)).toBe('Secret(***)');
  });

  test('expiration 0: never expires', async () => {
    const codec = createRefreshTokens(settings({ expiration: 0 }));
    const token = await codec.issue(ALICE, NOW);
    const claims = await codec.verify(token, { service: 'reg', now: NOW + 100 * 365 * DAY });
    expect(claims.expiresAt).toBeUndefined();
  });

  test('no fingerprint (a user without password) round-trips as undefined', async () => {
    const codec = createRefreshTokens(settings());
    const token = await codec.issue({ ...ALICE, fingerprint: undefined }, NOW);
    expect((await codec.verify(token, { service: 'reg', now: NOW })).fingerprint).toBeUndefined();
  });
});

describe('verify', () => {
  /** The same token with the unused low bits of its last base64url character changed. */
  const spareBits = (text: string) => {
    const last = text.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // The tag is 16 bytes: 22 characters, the last carrying 2 bits and 4 unused.
    const other = alphabet[alphabet.indexOf(last) ^ 1]!;
    return text.slice(0, -1) + other;
  };
  const flip = (text: string, part: number) => {
    const parts = text.split('.');
    const p = parts[part]!;
    parts[part] = (p[0] === 'A' ? 'B' : 'A') + p.slice(1);
    return parts.join('.');
  };

  test.each<
    [string, (t: string) => string, Partial<RefreshSettings>, { service?: string; now?: number }, string]
  >([
    ['tampered ciphertext', (t) => flip(t, 3), {}, {}, 'invalid refresh token'],
    ['tampered tag', (t) => flip(t, 4), {}, {}, 'invalid refresh token'],
    ['tampered header', (t) => flip(t, 0), {}, {}, 'invalid refresh token'],
    ['truncated', (t) => t.slice(0, -3), {}, {}, 'invalid refresh token'],
    // The same bytes in other text: base64url's unused low bits of a last character, padding,
    // whitespace (a decoder may pass over them; "any change to it is detected" must hold).
    ['unused bits of the last character set', (t) => spareBits(t), {}, {}, 'invalid refresh token'],
    ['padded', (t) => `${t}==`, {}, {}, 'invalid refresh token'],
    ['a space inside', (t) => `${t.slice(0, 40)} ${t.slice(40)}`, {}, {}, 'invalid refresh token'],
    ['a newline at the end', (t) => `${t}\n`, {}, {}, 'invalid refresh token'],
    ['garbage', () => 'not-a-token', {}, {}, 'invalid refresh token'],
    ['made with another secret', (t) => t, { secret: secret() }, {}, 'invalid refresh token'],
    ['another service', (t) => t, {}, { service: 'other' }, 'refresh token issued for another service'],
    ['expired, to the second', (t) => t, {}, { now: NOW + 90 * DAY }, 'refresh token expired'],
    [
      'revoked for the account',
      (t) => t,
      { revokeBefore: new Map([['alice', NOW + 1]]) },
      {},
      'refresh token revoked',
    ],
    [
      'revoked for everyone',
      (t) => t,
      { revokeBefore: new Map([[EVERY_ACCOUNT, NOW + 1]]) },
      {},
      'refresh token revoked',
    ],
  ])('%s → invalid_grant', async (_what, mangle, verifierSettings, expect_, message) => {
    const token = await createRefreshTokens(settings()).issue(ALICE, NOW);
    const verifier = createRefreshTokens(settings(verifierSettings));
    const attempt = verifier.verify(new Secret(mangle(token.reveal())), {
      service: expect_.service ?? 'reg',
      now: expect_.now ?? NOW + 60,
    });
    await expect(attempt).rejects.toBeInstanceOf(InvalidGrantError);
    await expect(attempt).rejects.toThrow(message);
  });

  test.each<[string, Partial<RefreshSettings>, number]>([
    ['one second before expiry', {}, NOW + 90 * DAY - 1],
    ['revoked for another account', { revokeBefore: new Map([['bob', NOW + 1]]) }, NOW + 60],
    ['revoke_before equal to the issue time', { revokeBefore: new Map([['alice', NOW]]) }, NOW + 60],
    [
      'revoke_before earlier than the issue time',
      { revokeBefore: new Map([[EVERY_ACCOUNT, NOW - 1]]) },
      NOW + 60,
    ],
  ])('%s → accepted', async (_what, verifierSettings, now) => {
    const token = await createRefreshTokens(settings()).issue(ALICE, NOW);
    const claims = await createRefreshTokens(settings(verifierSettings)).verify(token, {
      service: 'reg',
      now,
    });
    expect(claims.account).toBe('alice');
  });

  test('a token issued after a revocation works: re-login after revoke', async () => {
    const codec = createRefreshTokens(settings({ revokeBefore: new Map([['alice', NOW]]) }));
    const token = await codec.issue(ALICE, NOW + 5);
    expect((await codec.verify(token, { service: 'reg', now: NOW + 6 })).issuedAt).toBe(NOW + 5);
  });
});

describe('revokedBefore', () => {
  test.each<[string, [string, number][], number | undefined]>([
    ['nothing configured', [], undefined],
    ['own entry', [['alice', 10]], 10],
    ['only *', [[EVERY_ACCOUNT, 20]], 20],
    [
      'the later of own and *',
      [
        ['alice', 10],
        [EVERY_ACCOUNT, 20],
      ],
      20,
    ],
    [
      'the later of own and * (own later)',
      [
        ['alice', 30],
        [EVERY_ACCOUNT, 20],
      ],
      30,
    ],
    ['another account only', [['bob', 10]], undefined],
  ])('%s', (_what, entries, expected) => {
    expect(revokedBefore(new Map(entries), 'alice')).toBe(expected);
  });
});

describe('ensureRefreshSecret', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  test('creates a 0600 secret once, and never replaces it', () => {
    const path = join(tmp.dir, 'data', 'refresh.key');
    expect(ensureRefreshSecret(path)).toEqual({ created: true, path });
    const first = readFileSync(path, 'utf8');
    expect(first.trim().length).toBeGreaterThanOrEqual(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(ensureRefreshSecret(path)).toEqual({ created: false, path });
    expect(readFileSync(path, 'utf8')).toBe(first);
  });
});
