import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import { CachedAuthenticator, CredentialCache, staticEntryVersion } from '../../src/authn/cache.js';
import { ExtAuthenticator } from '../../src/authn/ext.js';
import { parseHtpasswd } from '../../src/authn/htpasswd.js';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { AppPasswordAuthenticator, issueAppPassword } from '../../src/oidc/app-password.js';
import { StaticUsersAuthenticator, type StaticUser } from '../../src/authn/users.js';
import type { ExtCommandConfig } from '../../src/ext/config.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import { compileLdapConfig, ldapAuthSchema } from '../../src/authn/ldap/config.js';
import { loadOidcAuth, oidcAuthSchema } from '../../src/oidc/config.js';
import { describeAuthenticatorContract } from '../helpers/authn-contract.js';
import { FakeDirectory, SERVICE_DN } from '../helpers/fake-ldap.js';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js';

const password = randomPassword();
const wrongPassword = randomPassword();
const stranger = { account: 'nobody', password: randomPassword() };
const labels = { group: ['devs'] };

// Static users (`users:`), with the cost the verifier pads every failure to.
const staticUsers = (): Map<string, StaticUser> =>
  new Map([['alice', { passwordHash: hash(password), labels }]]);

describeAuthenticatorContract('users', (verifier) => ({
  authenticator: new StaticUsersAuthenticator('users', staticUsers(), verifier),
  known: { account: 'alice', password },
  wrongPassword,
  unknown: stranger,
  unknownAnswer: 'no_match',
}));

// What the runtime puts in the chain: the same backend behind the credential cache.
describeAuthenticatorContract('users behind the credential cache', (verifier) => {
  const users = staticUsers();
  return {
    authenticator: new CachedAuthenticator(
      new StaticUsersAuthenticator('users', users, verifier),
      new CredentialCache({ ttlMs: 60_000, maxEntries: 100 }),
      staticEntryVersion(users),
    ),
    known: { account: 'alice', password },
    wrongPassword,
    unknown: stranger,
    unknownAnswer: 'no_match',
  };
});

describeAuthenticatorContract('users_file (htpasswd)', (verifier) => ({
  authenticator: new StaticUsersAuthenticator(
    'users_file',
    parseHtpasswd(`# team\nalice:${hash(password)}\n`, 'users.htpasswd'),
    verifier,
  ),
  known: { account: 'alice', password },
  wrongPassword,
  unknown: stranger,
  unknownAnswer: 'no_match',
}));

/** A directory with a service account and alice in the group devs (ldapts' own filter matching). */
function directory(): FakeDirectory {
  const dir = new FakeDirectory();
  dir.entries = [
    { dn: SERVICE_DN, password: 'service-password', attrs: { uid: 'svc', objectClass: 'account' } },
    {
      dn: 'uid=alice,ou=people,dc=example,dc=org',
      password,
      attrs: { uid: 'alice', objectClass: 'inetOrgPerson', mail: 'alice@example.org' },
    },
    {
      dn: 'cn=devs,ou=groups,dc=example,dc=org',
      attrs: { cn: 'devs', objectClass: 'groupOfNames', member: 'uid=alice,ou=people,dc=example,dc=org' },
    },
  ];
  return dir;
}

function ldapOn(dir: FakeDirectory): LdapAuthenticator {
  const raw = ldapAuthSchema.parse({
    addr: 'ldap.example.org:389',
    bind_dn: SERVICE_DN,
    bind_password_file: 'pw',
    base: 'dc=example,dc=org',
    filter: '(&(objectClass=inetOrgPerson)(uid=${account}))',
    labels: { mail: { attribute: 'mail' } },
    group_search: {
      base: 'ou=groups,dc=example,dc=org',
      filter: '(&(objectClass=groupOfNames)(member=${dn}))',
      attribute: 'cn',
      label: 'group',
    },
  });
  const config = compileLdapConfig(raw, { at: (p) => p, readFile: () => 'service-password\n' });
  return new LdapAuthenticator(config, dir.factory);
}

describeAuthenticatorContract('ldap_auth (fake directory)', () => {
  const dir = directory();
  return {
    authenticator: ldapOn(dir),
    work: () => dir.binds.length + dir.searches.length,
    known: { account: 'alice', password },
    wrongPassword,
    unknown: stranger,
    unknownAnswer: 'no_match',
    unavailable: () => {
      const down = directory();
      down.down = true;
      return ldapOn(down);
    },
  };
});

describeAuthenticatorContract('oidc_auth app passwords', async () => {
  const raw = oidcAuthSchema.parse({
    issuer: 'https://idp.example',
    client_id: 'regauth',
    redirect_url: 'https://auth.example/oidc/callback',
    registry_url: 'registry.example',
    secret_file: 'secret',
  });
  const config = (secret: string) =>
    loadOidcAuth(
      raw,
      (p) => p,
      () => secret,
    );
  const ours = config(randomBytes(48).toString('base64'));
  const theirs = config(randomBytes(48).toString('base64'));
  const now = Math.floor(Date.now() / 1000);
  return {
    authenticator: new AppPasswordAuthenticator(ours),
    known: {
      account: 'alice',
      password: (await issueAppPassword(ours, 'alice', labels, now)).password.reveal(),
    },
    // Signed with another secret: an app password, but not one of ours.
    wrongPassword: (await issueAppPassword(theirs, 'alice', labels, now)).password.reveal(),
    unknown: {
      account: stranger.account,
      password: (await issueAppPassword(theirs, stranger.account, labels, now)).password.reveal(),
    },
    // Any account may hold an app password: a refused one cannot say whether the account exists.
    unknownAnswer: 'denied',
    oddPasswords: [
      (await issueAppPassword(ours, 'alice', labels, now - 365 * 86400)).password.reveal(),
      (await issueAppPassword(ours, 'bob', labels, now)).password.reveal(),
      (await issueAppPassword(ours, 'alice', labels, now)).password.reveal().slice(0, -4),
    ],
  };
});

let issuer: TestIssuer;
let closedPort: number;
beforeAll(async () => {
  issuer = await startTestIssuer();
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  closedPort = (server.address() as AddressInfo).port;
  await new Promise<void>((done) => server.close(() => done()));
});
afterAll(() => issuer.stop());

describeAuthenticatorContract('jwt_auth', async () => {
  const trusted = (extra: Record<string, unknown> = {}) =>
    new JwtAuthenticator(
      jwtAuthSchema.parse({
        issuers: [{ issuer: issuer.url, audience: 'registry.test', account_claim: 'repository', ...extra }],
        timeout: 1,
      }),
    );
  const forged = (await generateKeyPair('ES256')).privateKey;
  const token = (repository: string, key?: CryptoKey) =>
    issuer.sign({ aud: 'registry.test', repository }, key ? { key } : {});
  return {
    authenticator: trusted(),
    known: { account: 'acme/app', password: await token('acme/app') },
    // The trusted issuer's name and key id, another key: a forgery.
    wrongPassword: await token('acme/app', forged),
    unknown: { account: 'nobody/else', password: await token('nobody/else', forged) },
    // A CI token carries its account: a refused one cannot say whether the account exists.
    unknownAnswer: 'denied',
    oddPasswords: [
      issuer.unsigned({ aud: 'registry.test', repository: 'acme/app' }),
      await issuer.sign({ aud: 'registry.test', repository: 'acme/app' }, { expiresIn: -600 }),
      await issuer.sign({ aud: 'another.registry', repository: 'acme/app' }),
      (await token('acme/app')).slice(0, -4),
    ],
    // The issuer's keys cannot be fetched.
    unavailable: () => trusted({ jwks_uri: `http://127.0.0.1:${closedPort}/jwks` }),
  };
});

const FIXTURES = resolve(import.meta.dirname, '../fixtures/ext');
const command = (name: string, args: string[]): ExtCommandConfig => ({
  command: join(FIXTURES, name),
  args,
  timeoutMs: 5000,
  maxConcurrency: 4,
  maxPerClient: 4,
});

// ext_auth decides nothing itself: the command does. This one keeps docker_auth's protocol
// (exit 2 for an account it does not know, the empty one included).
describeAuthenticatorContract('ext_auth', () => {
  const tmp = tempDir('regauth-contract-ext-');
  const users = join(tmp.dir, 'users');
  writeFileSync(users, `alice ${password} devs\n`);
  return {
    authenticator: new ExtAuthenticator(command('auth.sh', [users])),
    known: { account: 'alice', password },
    wrongPassword,
    unknown: stranger,
    unknownAnswer: 'no_match',
    unavailable: () => new ExtAuthenticator(command('exit.sh', ['3'])),
    close: async () => tmp.cleanup(),
  };
});
