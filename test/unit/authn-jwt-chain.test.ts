/**
 * A CI identity token (jwt_auth) is its issuer's signature: nobody guesses it, and no other
 * backend should see it. Found by an adversarial review: the chain bound to the directory with the
 * token as the password (the decoy bind for a name it does not hold), and a flood of bad logins
 * for a CI account put it past `account_max_failures`, so every CI job on a fresh runner address
 * got 429.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { authenticate } from '../../src/authn/chain.js';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { compileLdapConfig, ldapAuthSchema } from '../../src/authn/ldap/config.js';
import type { LdapClient } from '../../src/authn/ldap/connection.js';
import { Secret } from '../../src/core/secret.js';
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
