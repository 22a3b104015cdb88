/**
 * Found by a review of refresh tokens: `token.refresh.revoke_before` maps an account, or the literal `"*"`
 * (every account), to a time (docs/refresh-tokens.md). Its keys are folded like account names
 * (NFKC, case), and the fold of an account name can be `*` itself: `＊` (U+FF0A) and `﹡`
 * (U+FE61) are account names the token endpoint accepts, and NFKC turns them into `*`. So an
 * entry written to revoke the account `＊` revoked every account's refresh tokens, and that
 * account could never be revoked alone. The wildcard must be the key as written, not what an
 * account name folds to.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { isAccountName } from '../../src/core/account-name.js';
import { createRuntime } from '../../src/pipeline/runtime.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const NOW = 1_800_000_000;
const tmp = tempDir();
let keyLines = '';
let secretFile = '';

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  keyLines = `  key: ${keyPath}\n  certificate: ${certPath}\n`;
  secretFile = join(tmp.dir, 'refresh.key');
  writeFileSync(secretFile, randomBytes(48).toString('base64'));
});
afterAll(() => tmp.cleanup());

function refreshTokens(revokeBefore: string) {
  const yaml = `token:\n  issuer: t\n${keyLines}  refresh:\n    secret_file: ${secretFile}\n    revoke_before: ${revokeBefore}\nusers:\n  bob: {}\n`;
  return createRuntime(loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') })).refresh!;
}

const claims = (account: string) => ({
  account,
  service: 'reg',
  authenticator: 'users',
  fingerprint: undefined,
});
const verdict = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );

test.each(['\uFF0A', '\uFE61'])(
  'an entry for the account %s revokes that account only, not every account',
  async (name) => {
    expect(isAccountName(name)).toBe(true);
    const revokeAt = new Date((NOW + 60) * 1000).toISOString();
    const tokens = refreshTokens(`{"${name}": "${revokeAt}"}`);
    const bob = await tokens.issue(claims('bob'), NOW);
    const named = await tokens.issue(claims(name), NOW);
    // bob has no entry and there is no "*" entry: his token stands.
    expect(await verdict(tokens.verify(bob, { service: 'reg', now: NOW + 120 }))).toBe('accepted');
    expect(tokens.revokedBefore('bob')).toBeUndefined();
    // The account the entry names is revoked.
    expect(await verdict(tokens.verify(named, { service: 'reg', now: NOW + 120 }))).toBe(
      'refresh token revoked',
    );
  },
);

test('"*" itself still revokes every account', async () => {
  const revokeAt = new Date((NOW + 60) * 1000).toISOString();
  const tokens = refreshTokens(`{"*": "${revokeAt}"}`);
  const bob = await tokens.issue(claims('bob'), NOW);
  expect(await verdict(tokens.verify(bob, { service: 'reg', now: NOW + 120 }))).toBe('refresh token revoked');
});

// Found by a review of the fix: the wildcard's own key (EVERY_ACCOUNT, "\0*") was reachable by a
// key written so; it names no account (none holds a NUL) and now revokes nothing.
test('a key written as the wildcard’s own key ("\\0*") revokes no one', async () => {
  const revokeAt = new Date((NOW + 60) * 1000).toISOString();
  const tokens = refreshTokens(`{"\\0*": "${revokeAt}"}`);
  const bob = await tokens.issue(claims('bob'), NOW);
  expect(await verdict(tokens.verify(bob, { service: 'reg', now: NOW + 120 }))).toBe('accepted');
});
