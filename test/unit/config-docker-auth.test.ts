import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const FIXTURE = resolve(import.meta.dirname, '../fixtures/docker-auth-reference.yml');
const tmp = tempDir('regauth-docker-auth-');
let text = '';
let keys: Awaited<ReturnType<typeof writeSigningKey>>;

beforeAll(async () => {
  keys = await writeSigningKey(tmp.dir);
  text = readFileSync(FIXTURE, 'utf8')
    .replace('__KEY__', keys.keyPath)
    .replace('__CERT__', keys.certPath)
    .replaceAll('__HASH__', hash(randomPassword()));
});
afterAll(() => tmp.cleanup());

/** The errors loading the reference shape gives, by YAML path. */
function errors(source = text): Map<string, string> {
  try {
    loadConfigText(source, { file: join(tmp.dir, 'config.yml') });
  } catch (err) {
    if (err instanceof ConfigErrors) return new Map(err.errors.map((e) => [e.path, e.message]));
    throw err;
  }
  return new Map();
}

/** Every key path of the fixture: sections, their keys and nested keys (not user names or ACL rules). */
function keyPaths(value: unknown, prefix: string[] = []): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  if (prefix.length === 1 && prefix[0] === 'users') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => {
    const path = [...prefix, key];
    return [path.join('.'), ...keyPaths(child, path)];
  });
}

/** What each refusal must say instead (the part after the key's name). */
const REFUSED: Record<string, string> = {
  google_auth: 'use oidc_auth with Google as the OpenID Connect provider',
  github_auth: 'use oidc_auth',
  gitlab_auth: 'use oidc_auth with GitLab as the OpenID Connect provider',
  mongo_auth: 'use ext_auth',
  xorm_auth: 'use ext_auth',
  acl_mongo: 'put the rules under acl:',
  acl_xorm: 'put the rules under acl:',
  casbin_authz: 'put the rules under acl:',
  plugin_authn: 'run it as an ext_auth command',
  plugin_authz: 'run it as an ext_authz command',
  'server.net': 'it listens on TCP only',
  'server.letsencrypt': 'terminate TLS in HAProxy or give server.certificate and server.key',
  'oidc_auth.level_token_db': 'regauth stores no tokens: app passwords are signed with oidc_auth.secret_file',
  'oidc_auth.http_timeout': 'use oidc_auth.timeout',
  'oidc_auth.redirect_url': "docker_auth's callback path /oidc_auth is /oidc/callback in regauth",
  'oidc_auth.secret_file': 'app passwords are signed with it instead of being stored',
};

describe("docker_auth's reference config, key by key", () => {
  test('every key is accepted, or refused by name with what to do instead', () => {
    const found = errors();
    const paths = keyPaths(yaml.load(text));
    for (const path of paths) {
      const refusal = [...found.keys()].find((p) => path === p || path.startsWith(`${p}.`));
      if (refusal === undefined) continue;
      expect(REFUSED, `${path} is refused (${found.get(refusal)}) without an entry here`).toHaveProperty([
        refusal,
      ]);
    }
    expect(Object.fromEntries(found)).toEqual(
      Object.fromEntries(
        Object.entries(REFUSED).map(([path, advice]) => [path, expect.stringContaining(advice)]),
      ),
    );
    for (const message of found.values()) {
      expect(message).not.toMatch(/unknown key|must be a string|^required$/);
    }
  });

  test('empty keys (bind_dn:, bind_password_file:, ca_certificate:) mean unset, as in docker_auth', () => {
    const ldapOnly = `token: {issuer: x, key: k, certificate: c}\nldap_auth:\n  addr: dir.test:389\n  ca_certificate:\n  bind_dn:\n  bind_password_file:\n  base: dc=test\n  filter: (uid=\${account})\n`;
    const found = errors(ldapOnly);
    expect([...found.keys()].filter((p) => p.startsWith('ldap_auth'))).toEqual([]);
  });

  test('YAML merge keys (<<: *anchor) merge, as docker_auth reads them', () => {
    const config = loadConfigText(
      `token: {issuer: x, key: ${keys.keyPath}, certificate: ${keys.certPath}}
acl:
  - &admin
    match: {account: admin}
    actions: ["*"]
    comment: admins
  - <<: *admin
    match: {account: root}
`,
      { file: join(tmp.dir, 'config.yml') },
    );
    expect(config.acl.rules.map((r) => [r.match, r.actions, r.comment])).toEqual([
      [{ account: 'admin' }, ['*'], 'admins'],
      [{ account: 'root' }, ['*'], 'admins'],
    ]);
  });

  test('empty strings mean unset where docker_auth reads "" as unset (tls, bind_dn, TLS files)', () => {
    // docker_auth: `if c.BindDN != ""`, `if c.CACertificate != ""`, `c.TLS == ""` is the default
    // (always on :636, else none), `if c.Server.CertFile != "" || c.Server.KeyFile != ""`.
    const load = (ldap: string, server: string) =>
      loadConfigText(
        `server: {addr: "127.0.0.1:5001"${server}}
token: {issuer: x, key: ${keys.keyPath}, certificate: ${keys.certPath}}
ldap_auth:
  addr: dir.test:636
  base: dc=test
  filter: (uid=\${account})${ldap}
`,
        { file: join(tmp.dir, 'config.yml') },
      );
    const empty = load(
      '\n  tls: ""\n  bind_dn: ""\n  bind_password_file: ""\n  ca_certificate: ""',
      ', certificate: "", key: ""',
    );
    const absent = load('', '');
    expect(empty.ldap_auth).toEqual(absent.ldap_auth);
    expect(JSON.stringify(empty.server)).toBe(JSON.stringify(absent.server));
    expect(empty.server).not.toHaveProperty('certificate');
    expect(empty.ldap_auth?.tls).toBe('always');
    // Elsewhere "" stays a value, and an error where a value is required.
    expect(
      errors(`token: {issuer: "", key: ${keys.keyPath}, certificate: ${keys.certPath}}\n`).get(
        'token.issuer',
      ),
    ).toBeDefined();
  });
});
