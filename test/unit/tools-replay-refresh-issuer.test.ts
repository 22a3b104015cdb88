import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText, type Config } from '../../src/config/load.js';
import { InvalidGrantError } from '../../src/core/errors.js';
import { auditRecord } from '../../src/pipeline/audit.js';
import { issueToken } from '../../src/pipeline/pipeline.js';
import { createRuntime } from '../../src/pipeline/runtime.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import { replayAudit, type ReplayReport } from '../../src/tools/replay.js';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by a review (8b90df7). A refresh grant is redeemed only through the
 * authenticator that issued the refresh token (pipeline.ts redeemRefreshToken: `lookupAccount`
 * `through` the issuer; an issuer that is gone, or an account it no longer holds, is
 * "refresh token revoked"). No other backend can take the account over, unlike a password login.
 * replay applies the password-login reasoning to refresh grants:
 *  - the account left `users:` and an online backend is configured: "another backend may know
 *    it", not re-decided (exit 0), where the server refuses every such refresh grant;
 *  - the account moved from `users:` to `users_file`: re-decided as granted ("no decision
 *    changes", exit 0), where the server refuses every such refresh grant;
 *  - the issuer (ldap_auth) is gone while another online backend is configured: not re-decided,
 *    where the server refuses ("authenticator removed").
 */
const NOW = 1_800_000_000;
const tmp = tempDir('regauth-review-tools7-refresh-issuer-');
afterAll(() => tmp.cleanup());

const password = randomPassword();
let head = '';
let htpasswd = '';
let auditLine = '';

const ACL = `acl:\n  - match: {account: "/.+/", name: "\${account}/**"}\n    actions: [pull]\n    comment: own namespace\n`;
const load = (yaml: string): Config => loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });

/** The old config: alice in users:. */
const oldYaml = () => `${head}users:\n  alice: {password: "${hash(password)}"}\n${ACL}`;
/** alice gone from users:, ext_auth configured. */
const goneYaml = () =>
  `${head}users:\n  bob: {password: "${hash('bob-pw')}"}\next_auth: {command: /bin/false}\n${ACL}`;
/** alice moved to users_file (same password), users: keeps bob. */
const movedYaml = () =>
  `${head}users:\n  bob: {password: "${hash('bob-pw')}"}\nusers_file: ${htpasswd}\n${ACL}`;

const refreshBody = (token: string) =>
  `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}&service=reg&client_id=docker&scope=${encodeURIComponent('repository:alice/app:pull')}`;

async function refreshWith(yaml: string, token: string) {
  const request = parseTokenRequest({
    method: 'POST',
    query: '',
    authorization: undefined,
    body: refreshBody(token),
  });
  return issueToken(createRuntime(load(yaml)), request, { ip: '10.0.0.1', now: NOW + 60 });
}

let token = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const secret = join(tmp.dir, 'refresh.key');
  writeFileSync(secret, randomBytes(48).toString('base64'));
  htpasswd = join(tmp.dir, 'htpasswd');
  writeFileSync(htpasswd, `alice:${hash(password)}\n`);
  head = `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n  services: [reg]\n  refresh:\n    secret_file: ${secret}\n`;

  const rt = createRuntime(load(oldYaml()));
  const login = await issueToken(
    rt,
    parseTokenRequest({
      method: 'GET',
      query: 'account=alice&client_id=docker&offline_token=true&service=reg',
      authorization: basic('alice', password),
    }),
    { ip: '10.0.0.1', now: NOW },
  );
  token = login.refreshToken!.reveal();
  const request = parseTokenRequest({
    method: 'POST',
    query: '',
    authorization: undefined,
    body: refreshBody(token),
  });
  const result = await issueToken(rt, request, { ip: '10.0.0.1', now: NOW + 30 });
  const record = auditRecord({
    requestId: 'r1',
    method: 'POST',
    ip: '10.0.0.1',
    via: null,
    request,
    result,
    status: 200,
    ms: 1,
  });
  expect(record).toMatchObject({
    grant: 'refresh_token',
    authenticator: 'users',
    decisions: [{ granted: ['pull'] }],
  });
  auditLine = JSON.stringify({ level: 30, time: '2026-12-03T10:00:00.000Z', ...record, msg: 'token issued' });
});

const replay = (config: Config, line = auditLine): Promise<ReplayReport> =>
  replayAudit(
    [
      {
        name: 'audit.log',
        open: async function* () {
          yield `${line}\n`;
        },
      },
    ],
    { config },
  );

test('sanity: the server refuses the refresh grant under both new configs', async () => {
  await expect(refreshWith(goneYaml(), token)).rejects.toBeInstanceOf(InvalidGrantError);
  await expect(refreshWith(movedYaml(), token)).rejects.toBeInstanceOf(InvalidGrantError);
});

test('alice gone from users:, ext_auth configured: the refresh grant loses access (not "not re-decided")', async () => {
  const report = await replay(load(goneYaml()));
  expect(report.undetermined).toEqual([]);
  expect(report.changes.map((c) => [c.account, c.lost, c.after.by])).toEqual([
    ['alice', ['pull'], 'unauthenticated'],
  ]);
});

test('alice moved to users_file: the refresh grant loses access (the server refuses it)', async () => {
  const report = await replay(load(movedYaml()));
  expect(report.changes.map((c) => [c.account, c.lost])).toEqual([['alice', ['pull']]]);
});

test('a refresh grant whose issuer (ldap_auth) is gone, ext_auth configured: loses access', async () => {
  const line = JSON.parse(auditLine) as Record<string, unknown>;
  const ldapLine = JSON.stringify({
    ...line,
    account: 'dave',
    authenticator: 'ldap_auth',
    decisions: [{ scope: 'repository:dave/app:pull', granted: ['pull'], rule: 0, comment: 'own namespace' }],
  });
  const report = await replay(load(goneYaml()), ldapLine);
  expect(report.undetermined).toEqual([]);
  expect(report.changes.map((c) => [c.account, c.lost])).toEqual([['dave', ['pull']]]);
});
