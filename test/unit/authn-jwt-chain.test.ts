/**
 * A CI identity token (jwt_auth) is its issuer's signature: nobody guesses it, and no other
 * backend should see it. Found by an adversarial review: the chain bound to the directory with the
 * token as the password (the decoy bind for a name it does not hold), and a flood of bad logins
 * for a CI account put it past `account_max_failures`, so every CI job on a fresh runner address
 * got 429.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { authenticate } from '../../src/authn/chain.js';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { compileLdapConfig, ldapAuthSchema } from '../../src/authn/ldap/config.js';
import type { LdapClient } from '../../src/authn/ldap/connection.js';
import { Secret } from '../../src/core/secret.js';
import { Lockout } from '../../src/guard/lockout.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, tempDir } from '../helpers/fixtures.js';
import { FakeDirectory, SERVICE_DN } from '../helpers/fake-ldap.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js';

const AUDIENCE = 'registry.test';
const REPO = 'acme/app';
const claims = { aud: AUDIENCE, repository: REPO, repository_owner: 'acme', ref: 'refs/heads/main' };

let issuer: TestIssuer;
beforeAll(async () => {
  issuer = await startTestIssuer();
});
afterAll(async () => {
  await issuer.stop();
});

describe('the lockout and a CI account', () => {
  const tmp = tempDir();
  let s: TestServer;
  let runtime: Runtime;

  beforeAll(async () => {
    s = await startTestServer({
      dir: tmp.dir,
      // Default lockout policy (max_failures 5, account_max_failures 50, remember_success 30 d).
      // trusted_proxies only lets the test play many client addresses through X-Forwarded-For.
      config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
jwt_auth:
  issuers:
    - issuer: ${issuer.url}
      audience: ${AUDIENCE}
      account_claim: repository
      label_claims: [repository]
      required_claims: {repository_owner: [acme]}
acl: [{match: {name: '\${labels:repository}/*'}, actions: [pull, push]}]
`,
      runtime: (base) => (runtime = base),
      server: { lockout: new Lockout({ maxEntries: 10_000, policy: () => runtime.config.lockout }) },
    });
  });
  afterAll(async () => {
    await s.server.close(100);
    tmp.cleanup();
  });

  const get = (user: string, pw: string, client: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${s.url}/auth?service=registry&scope=repository:${REPO}/img:push,pull`,
        { agent: false, headers: { authorization: basic(user, pw), 'x-forwarded-for': client } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += String(c)));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  test('forged tokens and wrong passwords for the account hold back no CI job, from any address', async () => {
    expect((await get(REPO, await issuer.sign(claims), '198.51.100.1')).status).toBe(200);
    // An attacker without a token of its own: 5 forged tokens and 5 plain passwords from each of
    // 6 addresses, past the account's cap of 50 failures (account_max_failures).
    const forged = issuer.unsigned(claims);
    const statuses: number[] = [];
    for (let a = 1; a <= 6; a++) {
      for (let i = 0; i < 5; i++) statuses.push((await get(REPO, forged, `203.0.113.${a}`)).status);
      for (let i = 0; i < 5; i++) statuses.push((await get(REPO, `guess-${i}`, `203.0.113.${a}`)).status);
    }
    // Forged tokens are refused, never locked: a signature is not guessed.
    expect(statuses.filter((st) => st === 401).length).toBeGreaterThanOrEqual(30);
    const good = await issuer.sign(claims);
    // The next job, on a fresh runner address (hosted runners change address per job)...
    expect((await get(REPO, good, '198.51.100.2')).status).toBe(200);
    // ...and on an address that sent the forged tokens (behind one NAT with the attacker).
    expect((await get(REPO, good, '203.0.113.1')).status).toBe(200);
  });

  test('the token never reaches the log', () => {
    expect(s.logs.length).toBeGreaterThan(50);
    expect(s.logs.join('\n')).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}\.eyJ/);
  });
});

describe('the chain and a CI token', () => {
  test('with ldap_auth before jwt_auth, the directory never sees the token', async () => {
    const dir = new FakeDirectory();
    dir.entries = [{ dn: SERVICE_DN, password: 'svc-pw', attrs: { uid: 'svc', objectClass: 'account' } }];
    const bindPasswords: string[] = [];
    const factory = (options: Parameters<FakeDirectory['factory']>[0]): LdapClient => {
      const client = dir.factory(options);
      const bind = client.bind.bind(client);
      return Object.assign(client, {
        bind: (dn: string, pw: string) => {
          bindPasswords.push(pw);
          return bind(dn, pw);
        },
      }) as LdapClient;
    };
    const ldap = new LdapAuthenticator(
      compileLdapConfig(
        ldapAuthSchema.parse({
          addr: 'ldap.example.org:389',
          bind_dn: SERVICE_DN,
          bind_password_file: 'pw',
          base: 'dc=example,dc=org',
          filter: '(&(objectClass=inetOrgPerson)(uid=${account}))',
        }),
        { at: (p) => p, readFile: () => 'svc-pw\n' },
      ),
      factory,
    );
    const jwt = new JwtAuthenticator(
      jwtAuthSchema.parse({
        issuers: [{ issuer: issuer.url, audience: AUDIENCE, account_claim: 'repository' }],
      }),
    );
    const token = await issuer.sign(claims);
    // The order createRuntime builds: ... ldap_auth, oidc_auth, jwt_auth.
    const result = await authenticate(
      [ldap, jwt],
      { account: REPO, password: new Secret(token) },
      { verify: async () => false, burn: async () => {} },
    );
    expect(result).toMatchObject({ outcome: 'authenticated', by: 'jwt_auth' });
    expect(bindPasswords).not.toContain(token);
    // A forged token is refused by jwt_auth alone, too: no decoy bind with it either.
    const forged = await authenticate(
      [ldap, jwt],
      { account: REPO, password: new Secret(issuer.unsigned(claims)) },
      { verify: async () => false, burn: async () => {} },
    );
    expect(forged).toMatchObject({ outcome: 'denied', by: 'jwt_auth' });
    expect(bindPasswords.filter((pw) => pw !== 'svc-pw')).toEqual([]);
  });
});

describe('the cost of a forged CI token', () => {
  test('its refusal spends no password comparison: the lockout does not slow it, and it tells no name', async () => {
    const jwt = new JwtAuthenticator(
      jwtAuthSchema.parse({
        issuers: [{ issuer: issuer.url, audience: AUDIENCE, account_claim: 'repository' }],
      }),
    );
    let burned = 0;
    const verifier = { verify: async () => false, burn: async () => void burned++ };
    const forged = await authenticate(
      [jwt],
      { account: REPO, password: new Secret(issuer.unsigned(claims)) },
      verifier,
    );
    expect(forged).toMatchObject({ outcome: 'denied', by: 'jwt_auth' });
    expect(burned).toBe(0);
    // A password that is no token of jwt_auth's is still evened out.
    await authenticate([jwt], { account: REPO, password: new Secret('a-password') }, verifier);
    expect(burned).toBe(1);
  });
});

describe('the server and a CI token', () => {
  const tmp = tempDir();
  let s: TestServer;
  const stdins: string[] = [];

  beforeAll(async () => {
    s = await startTestServer({
      dir: tmp.dir,
      // ext_auth comes before jwt_auth in the chain; the credential cache fronts both, as by default.
      config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
ext_auth: {command: /bin/false}
jwt_auth:
  issuers:
    - issuer: ${issuer.url}
      audience: ${AUDIENCE}
      account_claim: repository
acl: [{match: {}, actions: [pull]}]
`,
      runtimeDeps: {
        runCommand: async (req) => {
          stdins.push(req.stdin);
          return { code: 2, signal: null, stdout: '', stderr: '' };
        },
      },
    });
  });
  afterAll(async () => {
    await s.server.close(100);
    tmp.cleanup();
  });

  test("ext_auth's command never receives the token, valid or forged", async () => {
    const good = await issuer.sign(claims);
    const forged = issuer.unsigned(claims);
    const login = (pw: string) =>
      fetch(`${s.url}/auth?service=registry`, { headers: { authorization: basic(REPO, pw) } });
    expect((await login(good)).status).toBe(200);
    expect((await login(forged)).status).toBe(401);
    // A password that is no token of jwt_auth's still goes to the command.
    expect((await login('a-password')).status).toBe(401);
    expect(stdins.some((i) => i.includes(good) || i.includes(forged))).toBe(false);
    expect(stdins.some((i) => i.includes('a-password'))).toBe(true);
  });
});
