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
import { createRefreshTokens } from '../../src/token/refresh.js';
import { replayAudit, type ReplayReport } from '../../src/tools/replay.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by a review of ad08676 (replay refreshRefused). The server's refresh grant (pipeline.ts
 * redeemRefreshToken, token/refresh.ts verify) refuses tokens that replay re-decides as granted:
 *  1. ldap_auth now `initial_bind_as_user: true`: it has no lookup, the server refuses every
 *     ldap_auth refresh token ("authenticator removed"); replay only asks whether ldap_auth is set.
 *  2. --against, oidc_auth.not_before for the account changed (or oidc secret replaced): the app
 *     password fingerprint changes, the server refuses ("credential changed"); replay checks
 *     fingerprints of static accounts only.
 *  3. token.refresh.revoke_before for the account later than the grant was last seen: every
 *     token those grants used was issued before it, the server refuses them all; replay ignores it.
 *  4. --against, token.refresh.secret_file replaced: no token of the old secret decrypts.
 */
const NOW = 1_800_000_000;
const SEEN = new Date((NOW + 30) * 1000).toISOString();
const tmp = tempDir('regauth-review-r9-replay-');
afterAll(() => tmp.cleanup());

const password = randomPassword();
const aliceHash = hash(password);
let keys = '';
let secret1 = '';
let secret2 = '';
let oidcSecret = '';
const ACL = `acl:\n  - match: {account: "/.+/", name: "\${account}/**"}\n    actions: [pull]\n    comment: own namespace\n`;
const load = (yaml: string): Config => loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });
const head = (secretFile = secret1, extra = '') =>
  `token:\n  issuer: t\n${keys}  services: [reg]\n  refresh:\n    secret_file: ${secretFile}\n${extra}`;
const ldap = (asUser: boolean) =>
  asUser
    ? `ldap_auth:\n  addr: "127.0.0.1:9"\n  initial_bind_as_user: true\n  bind_dn: "uid=\${account},ou=people,dc=example,dc=org"\n  base: "dc=example,dc=org"\n  filter: "(uid=\${account})"\n`
    : `ldap_auth:\n  addr: "127.0.0.1:9"\n  bind_dn: "cn=svc,dc=example,dc=org"\n  bind_password_file: ${join(tmp.dir, 'ldap.pw')}\n  base: "dc=example,dc=org"\n  filter: "(uid=\${account})"\n`;
const oidc = (notBefore = '') =>
  `oidc_auth:\n  issuer: https://idp.example\n  client_id: c\n  redirect_url: https://auth.example/oidc/callback\n  registry_url: reg.example\n  secret_file: ${oidcSecret}\n${notBefore}`;

const refreshRequest = (token: string, account: string) =>
  parseTokenRequest({
    method: 'POST',
    query: '',
    authorization: undefined,
    body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}&service=reg&client_id=docker&scope=${encodeURIComponent(`repository:${account}/app:pull`)}`,
  });

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

/** A refresh token as `config`'s server issues it, for an account of `by`, with the fingerprint its lookup gives. */
async function tokenFor(config: Config, account: string, by: string): Promise<string> {
  const rt = createRuntime(config);
  const issuer = rt.authenticators.find((a) => a.name === by)!;
  const fingerprint = issuer.lookup ? (await issuer.lookup(account))?.fingerprint : undefined;
  const labels = by === 'users' ? undefined : {};
  const t = await createRefreshTokens(config.token.refresh!).issue(
    { account, service: 'reg', authenticator: by, fingerprint, ...(labels ? { labels } : {}) },
    NOW,
  );
  return t.reveal();
}

/** The audit line of a refresh grant of `account` through `by`, granted pull by acl[0], at SEEN. */
async function lineFor(config: Config, token: string, account: string): Promise<string> {
  const request = refreshRequest(token, account);
  const result = await issueToken(createRuntime(config), request, { ip: '10.0.0.1', now: NOW + 30 });
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
  return JSON.stringify({ level: 30, time: SEEN, ...record, msg: 'token issued' });
}

const refuses = (config: Config, token: string, account: string) =>
  expect(
    issueToken(createRuntime(config), refreshRequest(token, account), { ip: '10.0.0.1', now: NOW + 60 }),
  ).rejects.toBeInstanceOf(InvalidGrantError);

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  keys = `  key: ${keyPath}\n  certificate: ${certPath}\n`;
  for (const [name, set] of [
    ['r1.key', (p: string) => (secret1 = p)],
    ['r2.key', (p: string) => (secret2 = p)],
    ['oidc.key', (p: string) => (oidcSecret = p)],
  ] as const) {
    const p = join(tmp.dir, name);
    writeFileSync(p, randomBytes(48).toString('base64'));
    set(p);
  }
  writeFileSync(join(tmp.dir, 'ldap.pw'), 'svc-password\n');
});

test('ldap_auth now binds as the user (no lookup): the server refuses its refresh tokens, replay must too', async () => {
  const newConfig = load(`${head()}${ldap(true)}${ACL}`);
  // As a service-bind ldap_auth issues it (its lookup gives no fingerprint; labels recorded).
  const token = (
    await createRefreshTokens(newConfig.token.refresh!).issue(
      { account: 'dave', service: 'reg', authenticator: 'ldap_auth', fingerprint: undefined, labels: {} },
      NOW,
    )
  ).reveal();
  await refuses(newConfig, token, 'dave');
  // The audit line of that grant: one of a users: account's, as ldap_auth's.
  const users = load(`${head()}users:\n  dave: {password: "${aliceHash}"}\n${ACL}`);
  const base = JSON.parse(await lineFor(users, await tokenFor(users, 'dave', 'users'), 'dave')) as Record<
    string,
    unknown
  >;
  const { labels: _, ...rest } = base;
  const report = await replay(JSON.stringify({ ...rest, authenticator: 'ldap_auth' }), newConfig);
  expect(report.undetermined).toEqual([]);
  expect(report.changes.map((c) => [c.account, c.lost])).toEqual([['dave', ['pull']]]);
});

test('--against: oidc_auth.not_before for the account changed: the app-password fingerprint changed, the server refuses', async () => {
  const oldConfig = load(`${head()}${oidc()}${ACL}`);
  const newConfig = load(`${head()}${oidc('  not_before:\n    erin: "2020-01-01T00:00:00Z"\n')}${ACL}`);
  const token = await tokenFor(oldConfig, 'erin', 'oidc_auth');
  const line = await lineFor(oldConfig, token, 'erin');
  await refuses(newConfig, token, 'erin');
  const report = await replay(line, newConfig, oldConfig);
  expect(report.changes.map((c) => [c.account, c.lost])).toEqual([['erin', ['pull']]]);
});

test('token.refresh.revoke_before for the account after the grant was last seen: the server refuses every such token', async () => {
  const users = `users:\n  alice: {password: "${aliceHash}"}\n`;
  const oldConfig = load(`${head()}${users}${ACL}`);
  const revokeAt = new Date((NOW + 45) * 1000).toISOString();
  const newConfig = load(
    `${head(secret1, `    revoke_before:\n      alice: "${revokeAt}"\n`)}${users}${ACL}`,
  );
  const token = await tokenFor(oldConfig, 'alice', 'users');
  const line = await lineFor(oldConfig, token, 'alice');
  await refuses(newConfig, token, 'alice');
  const report = await replay(line, newConfig);
  expect(report.changes.map((c) => [c.account, c.lost])).toEqual([['alice', ['pull']]]);
});

test('--against: token.refresh.secret_file replaced: no refresh token the old config honoured decrypts', async () => {
  const users = `users:\n  alice: {password: "${aliceHash}"}\n`;
  const oldConfig = load(`${head()}${users}${ACL}`);
  const newConfig = load(`${head(secret2)}${users}${ACL}`);
  const token = await tokenFor(oldConfig, 'alice', 'users');
  const line = await lineFor(oldConfig, token, 'alice');
  await refuses(newConfig, token, 'alice');
  const report = await replay(line, newConfig, oldConfig);
  expect(report.changes.map((c) => [c.account, c.lost])).toEqual([['alice', ['pull']]]);
});

test('control: --against with only the hash form changed ($2y$ vs $2b$): the server refuses, and so does replay', async () => {
  const oldConfig = load(
    `${head()}users:\n  alice: {password: "${aliceHash.replace(/^\$2[aby]\$/, '$2y$')}"}\n${ACL}`,
  );
  const newConfig = load(
    `${head()}users:\n  alice: {password: "${aliceHash.replace(/^\$2[aby]\$/, '$2b$')}"}\n${ACL}`,
  );
  const token = await tokenFor(oldConfig, 'alice', 'users');
  const line = await lineFor(oldConfig, token, 'alice');
  await refuses(newConfig, token, 'alice');
  const report = await replay(line, newConfig, oldConfig);
  expect(report.changes.map((c) => [c.account, c.lost])).toEqual([['alice', ['pull']]]);
});
