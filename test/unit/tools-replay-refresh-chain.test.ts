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
 * Found by a review of 98c322c. The server redeems a refresh token only when the chain's first lookup
 * (users, users_file, ext_auth, ldap_auth, oidc_auth, jwt_auth) finds the account in the issuer,
 * with the same credential fingerprint (pipeline.ts redeemRefreshToken). replay's goneAccount
 * only asks whether the issuer still holds the account:
 *  - an account an earlier backend (users:) now also holds: the server refuses ("account moved
 *    to another authenticator"), replay re-decides it as granted;
 *  - with --against, a static password changed between the two configs: every refresh token the
 *    old config honoured is refused ("credential changed"), replay reports no change.
 */
const NOW = 1_800_000_000;
const tmp = tempDir('regauth-review-r8-replay-');
afterAll(() => tmp.cleanup());

const password = randomPassword();
const aliceHash = hash(password);
let head = '';
let htpasswd = '';
let withoutAlice = '';
const ACL = `acl:\n  - match: {account: "/.+/", name: "\${account}/**"}\n    actions: [pull]\n    comment: own namespace\n`;
const load = (yaml: string): Config => loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });

/** alice in users_file (issuer of the refresh token). */
const fileYaml = () =>
  `${head}users:\n  bob: {password: "${hash('bob-pw')}"}\nusers_file: ${htpasswd}\n${ACL}`;
/** alice moved to users: (before users_file in the chain), her line gone from the file. */
const movedYaml = () =>
  `${head}users:\n  bob: {password: "${hash('bob-pw')}"}\n  alice: {password: "${aliceHash}"}\nusers_file: ${withoutAlice}\n${ACL}`;
/** alice in users: */
const staticYaml = (h: string) => `${head}users:\n  alice: {password: "${h}"}\n${ACL}`;

const refreshBody = (token: string) =>
  `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}&service=reg&client_id=docker&scope=${encodeURIComponent('repository:alice/app:pull')}`;
const refreshRequest = (token: string) =>
  parseTokenRequest({ method: 'POST', query: '', authorization: undefined, body: refreshBody(token) });

/** Logs alice in under `yaml`, redeems the refresh token once; the token and the audit line. */
async function issued(yaml: string): Promise<{ token: string; line: string }> {
  const rt = createRuntime(load(yaml));
  const login = await issueToken(
    rt,
    parseTokenRequest({
      method: 'GET',
      query: 'account=alice&client_id=docker&offline_token=true&service=reg',
      authorization: basic('alice', password),
    }),
    { ip: '10.0.0.1', now: NOW },
  );
  const token = login.refreshToken!.reveal();
  const request = refreshRequest(token);
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
  expect(record).toMatchObject({ grant: 'refresh_token', decisions: [{ granted: ['pull'] }] });
  return {
    token,
    line: JSON.stringify({ level: 30, time: '2026-12-03T10:00:00.000Z', ...record, msg: 'token issued' }),
  };
}

const replay = (line: string, config: Config, against?: Config): Promise<ReplayReport> =>
  replayAudit(
    [
      {
        name: 'audit.log',
        open: async function* () {
          yield `${line}\n`;
        },
      },
    ],
    { config, ...(against ? { against } : {}) },
  );

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const secret = join(tmp.dir, 'refresh.key');
  writeFileSync(secret, randomBytes(48).toString('base64'));
  htpasswd = join(tmp.dir, 'htpasswd');
  writeFileSync(htpasswd, `alice:${aliceHash}\n`);
  withoutAlice = join(tmp.dir, 'htpasswd-without-alice');
  writeFileSync(withoutAlice, `carol:${hash('carol-pw')}\n`);
  head = `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n  services: [reg]\n  refresh:\n    secret_file: ${secret}\n`;
});

test('a users_file refresh token whose account moved to users: the server refuses, replay must too', async () => {
  const { token, line } = await issued(fileYaml());
  expect(JSON.parse(line).authenticator).toBe('users_file');
  await expect(
    issueToken(createRuntime(load(movedYaml())), refreshRequest(token), { ip: '10.0.0.1', now: NOW + 60 }),
  ).rejects.toBeInstanceOf(InvalidGrantError);
  const report = await replay(line, load(movedYaml()));
  expect(report.changes.map((c) => [c.account, c.lost])).toEqual([['alice', ['pull']]]);
});

test('--against: a static password changed between the configs revokes every refresh token the old one honoured', async () => {
  const oldYaml = staticYaml(aliceHash);
  const newYaml = staticYaml(hash('a-new-password-for-alice'));
  const { token, line } = await issued(oldYaml);
  await expect(
    issueToken(createRuntime(load(newYaml)), refreshRequest(token), { ip: '10.0.0.1', now: NOW + 60 }),
  ).rejects.toBeInstanceOf(InvalidGrantError);
  const report = await replay(line, load(newYaml), load(oldYaml));
  expect(report.changes.map((c) => [c.account, c.lost])).toEqual([['alice', ['pull']]]);
});
