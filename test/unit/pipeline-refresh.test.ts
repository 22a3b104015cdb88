import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { InvalidGrantError, UnauthorizedError } from '../../src/core/errors.js';
import { issueToken } from '../../src/pipeline/pipeline.js';
import { auditRecord } from '../../src/pipeline/audit.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import type { Authenticator } from '../../src/authn/types.js';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.js';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const NOW = 1_800_000_000;
const tmp = tempDir();
const password = randomPassword();
const aliceHash = hash(password);
let keyLines = '';
let secretFile = '';
let htpasswd = '';
/** The htpasswd file once carol has moved to users: (an account is in one of them). */
let withoutCarol = '';

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  keyLines = `  key: ${keyPath}\n  certificate: ${certPath}\n`;
  secretFile = join(tmp.dir, 'refresh.key');
  writeFileSync(secretFile, randomBytes(48).toString('base64'));
  htpasswd = join(tmp.dir, 'htpasswd');
  writeFileSync(htpasswd, `carol:${hash(password)}\n`);
  withoutCarol = join(tmp.dir, 'htpasswd-without-carol');
  writeFileSync(withoutCarol, `dave:${hash(password)}\n`);
});
afterAll(() => tmp.cleanup());

interface Variant {
  refresh?: string | null;
  aliceHash?: string;
  aliceLabels?: string;
  withoutAlice?: boolean;
  carolInUsers?: boolean;
}

/** A runtime for one variant of the config: what an operator's edit + reload produces. */
function runtime(v: Variant = {}): Runtime {
  const refresh = v.refresh === null ? '' : `  refresh:\n    secret_file: ${secretFile}\n${v.refresh ?? ''}`;
  const alice = v.withoutAlice
    ? ''
    : `  alice:\n    password: "${v.aliceHash ?? aliceHash}"\n    labels: ${v.aliceLabels ?? '{group: [dev]}'}\n`;
  const carol = v.carolInUsers ? `  carol:\n    password: "${hash('other')}"\n` : '';
  const yaml = `token:\n  issuer: t\n${keyLines}${refresh}users:\n${alice}${carol}  nopass: {}\n  "": {}\nusers_file: ${v.carolInUsers ? withoutCarol : htpasswd}\nacl:\n  - match: {labels: {group: dev}, name: "team/*"}\n    actions: [pull, push]\n  - match: {account: "/.+/", name: "\${account}/*"}\n    actions: [pull]\n`;
  return createRuntime(loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') }));
}

const get = (rt: Runtime, query: string, authorization?: string) =>
  issueToken(rt, parseTokenRequest({ method: 'GET', query, authorization }), { ip: null, now: NOW });
const post = (rt: Runtime, body: string, now = NOW + 3600) =>
  issueToken(rt, parseTokenRequest({ method: 'POST', query: '', authorization: undefined, body }), {
    ip: null,
    now,
  });
const refreshBody = (token: string, extra = 'service=reg&client_id=docker') =>
  `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}&${extra}`;

/** The audit record of a refresh grant the pipeline refuses (InvalidGrantError), as the token handler writes it. */
async function refusedAudit(rt: Runtime, body: string, now: number): Promise<Record<string, unknown>> {
  const request = parseTokenRequest({ method: 'POST', query: '', authorization: undefined, body });
  const error = await issueToken(rt, request, { ip: null, now }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidGrantError);
  return auditRecord({
    requestId: 'r',
    method: 'POST',
    ip: null,
    via: null,
    request,
    error,
    status: 401,
    ms: 1,
  });
}

/** A refresh token for alice, as `docker login` gets it. */
async function login(rt: Runtime, user = 'alice', pass = password): Promise<string> {
  const result = await get(
    rt,
    `account=${user}&client_id=docker&offline_token=true&service=reg`,
    basic(user, pass),
  );
  expect(result.refreshToken).toBeDefined();
  return result.refreshToken!.reveal();
}

describe('issuing', () => {
  test.each<[string, Variant | undefined, string, string | undefined, boolean]>([
    ['docker login: GET offline_token=true', undefined, 'offline_token=true&service=reg', 'alice', true],
    ['GET without offline_token', undefined, 'service=reg', 'alice', false],
    ['GET offline_token=false', undefined, 'offline_token=false&service=reg', 'alice', false],
    [
      'refresh disabled (no token.refresh)',
      { refresh: null },
      'offline_token=true&service=reg',
      'alice',
      false,
    ],
    ['anonymous', undefined, 'offline_token=true&service=reg', undefined, false],
    ['htpasswd user', undefined, 'offline_token=true&service=reg', 'carol', true],
  ])('%s', async (_what, variant, query, user, issued) => {
    const result = await get(runtime(variant), query, user ? basic(user, password) : undefined);
    expect(result.refreshToken !== undefined).toBe(issued);
  });

  test('containerd: POST password grant with access_type=offline', async () => {
    const result = await post(
      runtime(),
      `grant_type=password&username=alice&password=${encodeURIComponent(password)}&service=reg&client_id=containerd-client&access_type=offline`,
    );
    expect(result.refreshToken?.reveal()).toMatch(/^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  test('a wrong password gets no token at all', async () => {
    await expect(
      get(runtime(), 'offline_token=true&service=reg', basic('alice', 'wrong')),
    ).rejects.toBeInstanceOf(UnauthorizedError);
  });
});

describe('the refresh grant', () => {
  test('a new access token for the account, the same refresh token back, scopes as repeated fields', async () => {
    const rt = runtime();
    const token = await login(rt);
    const result = await post(
      rt,
      refreshBody(
        token,
        'service=reg&client_id=containers/image&scope=repository:team/app:pull,push&scope=repository:alice/x:pull',
      ),
    );
    expect(result.account).toBe('alice');
    expect(result.authenticatedBy).toBe('users');
    expect(result.refreshToken?.reveal()).toBe(token);
    expect(result.scope).toBe('repository:team/app:pull,push repository:alice/x:pull');
    expect(decodeJwt(result.token)).toMatchObject({ sub: 'alice', aud: 'reg', iat: NOW + 3600 });
  });

  test('labels are resolved again from the current config', async () => {
    const token = await login(runtime());
    const after = await post(
      runtime({ aliceLabels: '{group: [ops]}' }),
      refreshBody(token, 'service=reg&client_id=docker&scope=repository:team/app:pull'),
    );
    expect(after.access).toEqual([]);
  });

  test('a backend that cannot look labels up again (app passwords) keeps those recorded at issue', async () => {
    const base = runtime();
    const idp: Authenticator = {
      name: 'oidc_auth',
      authenticate: async ({ account }) =>
        account === 'dana'
          ? { outcome: 'authenticated', labels: { group: ['dev'] }, fingerprint: 'f1' }
          : { outcome: 'no_match' },
      lookup: async (account) => (account === 'dana' ? { fingerprint: 'f1' } : undefined),
      labelsInRefreshToken: true,
    };
    const rt: Runtime = { ...base, authenticators: [idp] };
    const token = await login(rt, 'dana', 'rga_whatever');
    const after = await post(
      rt,
      refreshBody(token, 'service=reg&client_id=docker&scope=repository:team/app:push'),
    );
    expect(after.account).toBe('dana');
    expect(after.access).toEqual([{ type: 'repository', name: 'team/app', actions: ['push'] }]);
  });

  test('an account in 300 groups gets a short refresh token (labels are looked up again, not recorded)', async () => {
    const groups = Array.from({ length: 300 }, (_, i) => `a-rather-long-directory-group-name-${i}`);
    const rt = runtime({ aliceLabels: `{group: [dev, ${groups.join(', ')}]}` });
    const token = await login(rt);
    expect(token.length).toBeLessThan(1000);
    const after = await post(
      rt,
      refreshBody(token, 'service=reg&client_id=docker&scope=repository:team/app:push'),
    );
    expect(after.access).toEqual([{ type: 'repository', name: 'team/app', actions: ['push'] }]);
  });

  test('a refresh token that would be too long to send back is not offered; the login still works', async () => {
    const groups = Array.from({ length: 3000 }, (_, i) => `a-rather-long-directory-group-name-${i}`);
    const idp: Authenticator = {
      name: 'oidc_auth',
      authenticate: async () => ({ outcome: 'authenticated', labels: { group: groups }, fingerprint: 'f1' }),
      lookup: async () => ({ fingerprint: 'f1' }),
      labelsInRefreshToken: true,
    };
    const rt: Runtime = { ...runtime(), authenticators: [idp] };
    const result = await get(rt, 'client_id=docker&offline_token=true&service=reg', basic('dana', 'rga_x'));
    expect(result.account).toBe('dana');
    expect(result.refreshToken).toBeUndefined();
  });

  test('while revoke_before lies ahead, a login gets no refresh token; once it has passed, one that works', async () => {
    const later = new Date((NOW + 3600) * 1000).toISOString();
    const rt = runtime({ refresh: `    revoke_before: {ALICE: "${later}"}\n` });
    const query = 'client_id=docker&offline_token=true&service=reg';
    // A token issued now would be refused until then: docker would keep it instead of the password.
    const before = await issueToken(
      rt,
      parseTokenRequest({ method: 'GET', query, authorization: basic('alice', password) }),
      {
        ip: null,
        now: NOW,
      },
    );
    expect(before.token).toBeTruthy();
    expect(before.refreshToken).toBeUndefined();
    const after = await issueToken(
      rt,
      parseTokenRequest({ method: 'GET', query, authorization: basic('alice', password) }),
      {
        ip: null,
        now: NOW + 3600,
      },
    );
    expect(after.refreshToken).toBeDefined();
    expect((await post(rt, refreshBody(after.refreshToken!.reveal()), NOW + 3601)).account).toBe('alice');
    // Others are not held back by alice's entry.
    const bob = await get(rt, query, basic('carol', password));
    expect(bob.refreshToken).toBeDefined();
  });

  test('a backend that names the stored spelling (LDAP found alice for ALICE): token, ACL and refresh token use it', async () => {
    const directory: Authenticator = {
      name: 'ldap_auth',
      authenticate: async ({ account }) =>
        account.toLowerCase() === 'alice'
          ? { outcome: 'authenticated', labels: {}, ...(account !== 'alice' ? { account: 'alice' } : {}) }
          : { outcome: 'no_match' },
      lookup: async (account) => (account === 'alice' ? { labels: {} } : undefined),
    };
    const rt: Runtime = { ...runtime(), authenticators: [directory] };
    const result = await get(
      rt,
      'client_id=docker&offline_token=true&service=reg&scope=repository:alice/app:pull',
      basic('ALICE', 'pw'),
    );
    expect(result.account).toBe('alice');
    expect(decodeJwt(result.token).sub).toBe('alice');
    // The ACL's ${account}/* rule matched the stored spelling.
    expect(result.access).toEqual([{ type: 'repository', name: 'alice/app', actions: ['pull'] }]);
    const after = await post(rt, refreshBody(result.refreshToken!.reveal()));
    expect(after.account).toBe('alice');
  });

  test('a respelled login is decided as if typed as stored: an earlier static user keeps its name', async () => {
    let directoryAsked = 0;
    const directory: Authenticator = {
      name: 'ldap_auth',
      authenticate: async ({ account, password: given }) => {
        directoryAsked += 1;
        const stored = account.trim().toLowerCase();
        if (stored !== 'alice' && stored !== 'dave') return { outcome: 'no_match' };
        if (given?.reveal() !== 'directory-pw') return { outcome: 'denied', reason: 'invalid credentials' };
        return { outcome: 'authenticated', labels: {}, ...(account !== stored ? { account: stored } : {}) };
      },
    };
    const base = runtime();
    const rt: Runtime = { ...base, authenticators: [...base.authenticators, directory] };
    const as = (user: string, pass: string) => get(rt, 'service=reg', basic(user, pass));
    // users holds alice: the directory's alice cannot become her by typing ALICE.
    await expect(as('ALICE', 'directory-pw')).rejects.toThrow(UnauthorizedError);
    expect((await as('alice', password)).authenticatedBy).toBe('users');
    // dave exists only in the directory: any spelling acts as "dave".
    directoryAsked = 0;
    const dave = await as('DAVE', 'directory-pw');
    // Only the backends before the directory are asked again (one bind, not two).
    expect(directoryAsked).toBe(1);
    expect(dave).toMatchObject({ account: 'dave', authenticatedBy: 'ldap_auth' });
    expect(decodeJwt(dave.token).sub).toBe('dave');
  });

  test('a refresh token for a name that an earlier backend now holds in another spelling is revoked', async () => {
    const idp: Authenticator = {
      name: 'oidc_auth',
      authenticate: async () => ({ outcome: 'authenticated', labels: {}, fingerprint: 'f1' }),
      lookup: async () => ({ fingerprint: 'f1' }),
      labelsInRefreshToken: true,
    };
    const directory = (holds: boolean): Authenticator => ({
      name: 'ldap_auth',
      authenticate: async () => ({ outcome: 'no_match' }),
      lookup: async (account) =>
        holds && account.toLowerCase() === 'alice' ? { labels: {}, account: 'alice' } : undefined,
    });
    const before: Runtime = { ...runtime(), authenticators: [directory(false), idp] };
    const token = await login(before, 'Alice', 'rga_x');
    expect((await post(before, refreshBody(token))).account).toBe('Alice');
    const after: Runtime = { ...runtime(), authenticators: [directory(true), idp] };
    await expect(post(after, refreshBody(token))).rejects.toThrow('account moved to another authenticator');
  });

  test('a refresh token naming another spelling than its own backend now holds is revoked', async () => {
    const directory: Authenticator = {
      name: 'ldap_auth',
      authenticate: async () => ({ outcome: 'authenticated', labels: {} }),
      lookup: async (account) => (account === 'alice' ? { labels: {} } : { labels: {}, account: 'alice' }),
    };
    const rt: Runtime = { ...runtime(), authenticators: [directory] };
    const token = await login(rt, 'Alice', 'pw');
    await expect(post(rt, refreshBody(token))).rejects.toThrow('the account is now spelled otherwise');
  });

  test('a refresh token never outlives the credential it was obtained with (an app password)', async () => {
    const idp: Authenticator = {
      name: 'oidc_auth',
      authenticate: async () => ({
        outcome: 'authenticated',
        labels: { group: ['dev'] },
        fingerprint: 'f1',
        expiresAt: NOW + 600,
      }),
      lookup: async () => ({ fingerprint: 'f1' }),
      labelsInRefreshToken: true,
    };
    const rt: Runtime = { ...runtime(), authenticators: [idp] };
    const token = await login(rt, 'dana', 'rga_x');
    expect((await post(rt, refreshBody(token), NOW + 599)).account).toBe('dana');
    await expect(post(rt, refreshBody(token), NOW + 601)).rejects.toThrow(InvalidGrantError);
  });

  test('a user without a password keeps working until a password is set', async () => {
    const token = await login(runtime(), 'nopass', 'anything');
    expect((await post(runtime(), refreshBody(token))).account).toBe('nopass');
  });

  test('an htpasswd user: the token names users_file', async () => {
    const token = await login(runtime(), 'carol');
    expect((await post(runtime(), refreshBody(token))).authenticatedBy).toBe('users_file');
  });

  test.each<[string, Variant, string]>([
    [
      'password changed (new hash)',
      { aliceHash: hash(password) },
      'refresh token revoked: credential changed',
    ],
    ['account removed', { withoutAlice: true }, 'refresh token revoked: account removed'],
    [
      'operator revocation',
      { refresh: `    revoke_before: {alice: "${new Date((NOW + 1) * 1000).toISOString()}"}\n` },
      'refresh token revoked',
    ],
    [
      'operator revocation of everyone',
      { refresh: `    revoke_before: {"*": "${new Date((NOW + 1) * 1000).toISOString()}"}\n` },
      'refresh token revoked',
    ],
    [
      'refresh disabled since',
      { refresh: null },
      'refresh tokens are disabled: token.refresh is not set in the config',
    ],
  ])('%s → invalid_grant', async (_what, variant, message) => {
    const token = await login(runtime());
    const attempt = post(runtime(variant), refreshBody(token));
    await expect(attempt).rejects.toBeInstanceOf(InvalidGrantError);
    await expect(attempt).rejects.toThrow(message);
  });

  test.each<[string, Variant, string, number?]>([
    ['expired', {}, 'reg', NOW + 91 * 86_400],
    [
      'revoked',
      { refresh: `    revoke_before: {alice: "${new Date((NOW + 1) * 1000).toISOString()}"}\n` },
      'reg',
    ],
    ['for another service', {}, 'other'],
    ['its account removed', { withoutAlice: true }, 'reg'],
  ])(
    'a refused refresh token (%s) names its account in the audit line',
    async (_what, variant, service, now = NOW + 3600) => {
      const token = await login(runtime());
      const record = await refusedAudit(
        runtime(variant),
        refreshBody(token, `service=${service}&client_id=docker`),
        now,
      );
      // Whose token is still in use: the operator can tell them to log in again.
      expect(record).toMatchObject({ account: 'alice', grant: 'refresh_token' });
    },
  );

  test('a token that does not decrypt names no account', async () => {
    expect(await refusedAudit(runtime(), refreshBody('x.y.z'), NOW)).toMatchObject({ account: '' });
  });

  test('an account now answered by an earlier authenticator → invalid_grant', async () => {
    const token = await login(runtime(), 'carol');
    await expect(post(runtime({ carolInUsers: true }), refreshBody(token))).rejects.toThrow(
      'refresh token revoked: account moved to another authenticator',
    );
  });

  test.each<[string, (token: string) => string, new (...a: never[]) => Error]>([
    ['another service', (t) => refreshBody(t, 'service=other&client_id=docker'), InvalidGrantError],
    ['expired', (t) => refreshBody(t), InvalidGrantError],
  ])('%s', async (what, body, kind) => {
    const rt = runtime();
    const token = await login(rt);
    const now = what === 'expired' ? NOW + 90 * 86_400 : NOW + 60;
    await expect(post(rt, body(token), now)).rejects.toBeInstanceOf(kind);
  });

  test('an access token is not a refresh token', async () => {
    const rt = runtime();
    const access = (await get(rt, 'service=reg', basic('alice', password))).token;
    await expect(post(rt, refreshBody(access))).rejects.toThrow('invalid refresh token');
  });
});

// Found by a review. docs/refresh-tokens.md has an operator remove a `revoke_before` entry "after
// its time plus token.refresh.expiration", which holds only if the lifetime in force bounds the
// tokens already out, as `app_password_expiration` and `catalog.ui_session` bound theirs. The
// check trusted the `exp` set at issue (none under `expiration: 0`): a token issued under a
// longer or unlimited lifetime outlived the one the config sets now, and following the procedure
// revived tokens the operator had revoked.
describe('token.refresh.expiration lowered by a reload', () => {
  const DAY = 86_400;
  const at = (rt: Runtime, token: string, now: number) =>
    post(rt, refreshBody(token), now).then(
      (r) => `granted to ${r.account}`,
      (e: unknown) => (e instanceof InvalidGrantError ? `invalid_grant: ${e.message}` : String(e)),
    );
  const lifetime = (expiration: string, more = '') =>
    runtime({ refresh: `    expiration: ${expiration}\n${more}` });

  test('a token issued under `expiration: 0` expires once older than the lifetime set since', async () => {
    const token = await login(lifetime('0'));
    expect(await at(lifetime('30d'), token, NOW + 29 * DAY)).toBe('granted to alice');
    expect(await at(lifetime('30d'), token, NOW + 30 * DAY)).toBe('invalid_grant: refresh token expired');
    // Under `expiration: 0` again, it never expires.
    expect(await at(lifetime('0'), token, NOW + 3650 * DAY)).toBe('granted to alice');
  });

  test('a token issued under 90d is refused once older than a lowered 7d', async () => {
    const token = await login(lifetime('90d'));
    expect(await at(lifetime('7d'), token, NOW + 7 * DAY - 1)).toBe('granted to alice');
    expect(await at(lifetime('7d'), token, NOW + 8 * DAY)).toBe('invalid_grant: refresh token expired');
    // Raising the lifetime does not lengthen it past the 90 days it was issued with.
    expect(await at(lifetime('365d'), token, NOW + 91 * DAY)).toBe('invalid_grant: refresh token expired');
  });

  test('the documented revoke_before procedure does not revive a revoked token', async () => {
    const token = await login(lifetime('0'));
    const revokeAt = new Date((NOW + DAY) * 1000).toISOString();
    const revoking = lifetime('7d', `    revoke_before: {alice: "${revokeAt}"}\n`);
    expect(await at(revoking, token, NOW + 2 * DAY)).toBe('invalid_grant: refresh token revoked');
    // "Remove an entry only after its time plus token.refresh.expiration": a day after that.
    expect(await at(lifetime('7d'), token, NOW + DAY + 8 * DAY)).toBe('invalid_grant: refresh token expired');
  });
});
