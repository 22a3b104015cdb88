import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { utf8Escapes } from '../../src/authn/ldap/config.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { closeRuntime, createRuntime } from '../../src/pipeline/runtime.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir();
let head = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  head = `token:\n  issuer: test\n  key: ${keyPath}\n  certificate: ${certPath}\n`;
  writeFileSync(join(tmp.dir, 'bind-pw'), 's3cret-bind\n');
  writeFileSync(join(tmp.dir, 'empty-pw'), '\n');
  writeFileSync(join(tmp.dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  writeFileSync(join(tmp.dir, 'not-a-cert'), 'hello');
});
afterAll(() => tmp.cleanup());

const base = {
  addr: '"ldap.example.org:389"',
  bind_dn: '"cn=svc,dc=example,dc=org"',
  bind_password_file: 'bind-pw',
  base: '"dc=example,dc=org"',
  filter: '"(uid=${account})"',
};

/** An ldap_auth section from the base keys, with overrides (undefined removes a key). */
function section(overrides: Record<string, string | undefined> = {}): string {
  const keys = { ...base, ...overrides };
  const lines = Object.entries(keys)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `  ${k}: ${v}`);
  return `${head}ldap_auth:\n${lines.join('\n')}\n`;
}

function load(yaml: string) {
  return loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });
}

function errorsOf(yaml: string): string {
  try {
    load(yaml);
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.message).join('\n');
    throw err;
  }
  throw new Error('config loaded without error');
}

describe('ldap_auth config', () => {
  test('docker_auth keys load with defaults; the bind password is a Secret, trimmed', () => {
    const config = load(
      section({
        labels: '{groups: {attribute: memberOf, parse_cn: true, lower_case: true}}',
      }),
    );
    const ldap = config.ldap_auth!;
    expect(ldap).toMatchObject({
      host: 'ldap.example.org',
      port: 389,
      tls: 'none',
      insecureSkipVerify: false,
      initialBindAsUser: false,
      connectTimeoutMs: 5000,
      operationTimeoutMs: 5000,
      maxConcurrency: 10,
      groupSearch: undefined,
    });
    expect(ldap.labels.get('groups')).toEqual({ attribute: 'memberOf', parseCn: true, lowerCase: true });
    expect(ldap.bindPassword?.reveal()).toBe('s3cret-bind');
    expect(inspect(config)).not.toContain('s3cret-bind');
    expect(JSON.stringify(config.ldap_auth)).not.toContain('s3cret-bind');
    expect(config.files).toContain(join(tmp.dir, 'bind-pw'));
  });

  test('a docker_auth yes where a boolean goes: the path, and what to write', () => {
    expect(errorsOf(section({ insecure_tls_skip_verify: 'yes' }))).toContain(
      'ldap_auth.insecure_tls_skip_verify: must be true or false ("yes" is a string in YAML 1.2: write true)',
    );
  });

  test('base: "" searches from the root, as in docker_auth (docs/configuration.md)', () => {
    expect(load(section({ base: '""' })).ldap_auth!.base).toBe('');
    expect(
      load(section({ group_search: '{base: "", filter: "(member=${dn})"}' })).ldap_auth!.groupSearch?.base,
    ).toBe('');
  });

  test('base: left empty (YAML null) is the root too, as docker_auth reads an unset base', () => {
    // docker_auth's reference config lists keys left empty; its unset base is the empty string.
    expect(load(section({ base: '' })).ldap_auth!.base).toBe('');
    expect(load(section({ base: '~' })).ldap_auth!.base).toBe('');
    expect(
      load(section({ group_search: '{base: , filter: "(member=${dn})"}' })).ldap_auth!.groupSearch?.base,
    ).toBe('');
  });

  test('a missing base is refused with its path and how to search from the root', () => {
    expect(errorsOf(section({ base: undefined }))).toMatch(/ldap_auth\.base: .*base: ""/);
    expect(errorsOf(section({ group_search: '{filter: "(member=${dn})"}' }))).toMatch(
      /ldap_auth\.group_search\.base: .*base: ""/,
    );
  });

  test('group search, TLS and timeouts', () => {
    const ldap = load(
      section({
        addr: 'ldap.example.org',
        tls: 'always',
        ca_certificate: 'ca.pem',
        group_search: '{base: "ou=groups,dc=example,dc=org", filter: "(member=${dn})"}',
        connect_timeout: '"3s"',
        operation_timeout: '10',
        max_concurrency: '4',
      }),
    ).ldap_auth!;
    expect(ldap.port).toBe(636);
    expect(ldap.caPem).toContain('BEGIN CERTIFICATE');
    expect(ldap.groupSearch).toEqual({
      base: 'ou=groups,dc=example,dc=org',
      filter: '(member=${dn})',
      attribute: 'cn',
      label: 'groups',
      parseCn: false,
      lowerCase: false,
    });
    expect([ldap.connectTimeoutMs, ldap.operationTimeoutMs, ldap.maxConcurrency]).toEqual([3000, 10000, 4]);
  });

  test.each([
    ['ldap.example.org:636', undefined, 'always'],
    ['ldap.example.org:389', undefined, 'none'],
    ['ldap.example.org:636', 'starttls', 'starttls'],
  ])('addr %s with tls %s → %s (docker_auth default)', (addr, tls, expected) => {
    expect(load(section({ addr, tls })).ldap_auth!.tls).toBe(expected);
  });

  test('docker_auth leftovers load unchanged: CA and skip-verify with tls none, a password file with initial bind', () => {
    const plain = load(
      section({ ca_certificate: 'missing.pem', insecure_tls_skip_verify: 'true' }),
    ).ldap_auth!;
    expect(plain).toMatchObject({ tls: 'none', caPem: undefined });
    const initial = load(
      section({ initial_bind_as_user: 'true', bind_dn: '"uid=${account},ou=people,dc=example,dc=org"' }),
    ).ldap_auth!;
    expect(initial.bindPassword).toBeUndefined();
  });

  test('initial_bind_as_user needs ${account} in bind_dn and no password file', () => {
    const ldap = load(
      section({
        initial_bind_as_user: 'true',
        bind_dn: '"uid=${account},ou=people,dc=example,dc=org"',
        bind_password_file: undefined,
      }),
    ).ldap_auth!;
    expect(ldap.bindPassword).toBeUndefined();
  });

  test.each([
    [
      'OpenLDAP',
      '(&(objectClass=inetOrgPerson)(uid=${account}))',
      [{ attribute: 'uid', template: '${account}' }],
    ],
    [
      'Active Directory',
      '(&(objectCategory=person)(objectClass=user)(sAMAccountName=${account}))',
      [{ attribute: 'sAMAccountName', template: '${account}' }],
    ],
    [
      'uid or mail, with a domain around the account',
      '(|(uid=${account})(mail=${account}@example.org))',
      [
        { attribute: 'uid', template: '${account}' },
        { attribute: 'mail', template: '${account}@example.org' },
      ],
    ],
  ])('%s: the account terms whose spelling a login must match', (_what, filter, terms) => {
    expect(load(section({ filter: JSON.stringify(filter) })).ldap_auth!.accountTerms).toEqual(terms);
  });

  test.each([
    ['missing base', { base: undefined }, 'ldap_auth.base: required'],
    ['filter without ${account}', { filter: '"(uid=alice)"' }, 'ldap_auth.filter: must contain ${account}'],
    ['unbalanced filter', { filter: '"(uid=${account}"' }, 'ldap_auth.filter: invalid LDAP filter'],
    [
      'the account only in a substring term',
      { filter: '"(uid=${account}*)"' },
      'ldap_auth.filter: the account must appear in an equality term, (attribute=${account})',
    ],
    [
      'the account only under a negation',
      { filter: '"(&(objectClass=person)(!(uid=${account})))"' },
      'ldap_auth.filter: the account must appear in an equality term',
    ],
    ['bad tls', { tls: 'yes' }, 'ldap_auth.tls: must be one of none, always, starttls'],
    ['bad addr', { addr: '"ldap://x:389"' }, 'ldap_auth.addr: invalid address'],
    ['port out of range', { addr: '"x:70000"' }, 'ldap_auth.addr: invalid address'],
    [
      'bind_dn without password file',
      { bind_password_file: undefined },
      'ldap_auth.bind_password_file: required',
    ],
    ['password file without bind_dn', { bind_dn: undefined }, 'ldap_auth.bind_dn: required'],
    [
      'empty password file',
      { bind_password_file: 'empty-pw' },
      'ldap_auth.bind_password_file: the file is empty',
    ],
    ['missing password file', { bind_password_file: 'nope' }, 'ldap_auth.bind_password_file: cannot read'],
    ['not a PEM CA', { tls: 'starttls', ca_certificate: 'not-a-cert' }, 'ldap_auth.ca_certificate: no PEM'],
    ['unknown key', { bind_password: 'x' }, 'ldap_auth.bind_password: unknown key; expected one of addr'],
    ['unknown label key', { labels: '{g: {attr: memberOf}}' }, 'ldap_auth.labels.g.attr: unknown key'],
    [
      'timeout too long',
      { operation_timeout: '120' },
      'ldap_auth.operation_timeout: must be between 1 and 60',
    ],
    ['concurrency 0', { max_concurrency: '0' }, 'ldap_auth.max_concurrency: must be at least 1'],
    [
      'initial bind DN without ${account}',
      { initial_bind_as_user: 'true', bind_password_file: undefined },
      'ldap_auth.bind_dn: must contain ${account}',
    ],
    [
      'group filter without placeholder',
      { group_search: '{base: "ou=g", filter: "(cn=devs)"}' },
      'ldap_auth.group_search.filter: must contain ${dn} or ${account}',
    ],
  ])('%s is refused', (_what, overrides, message) => {
    expect(errorsOf(section(overrides))).toContain(message);
  });

  test('the runtime asks ldap_auth after users and users_file', async () => {
    writeFileSync(join(tmp.dir, 'htpasswd'), `carol:${hash('x')}\n`);
    const yaml = section().replace(
      'ldap_auth:',
      `users:\n  admin: {password: "${hash('x')}"}\nusers_file: htpasswd\nldap_auth:`,
    );
    const runtime = createRuntime(load(yaml), {
      ldapClient: () => {
        throw new Error('no directory in this test');
      },
    });
    expect(runtime.authenticators.map((a) => a.name)).toEqual(['users', 'users_file', 'ldap_auth']);
    await closeRuntime(runtime);
  });

  test('every backend in the documented order: users, users_file, ext_auth, ldap_auth, oidc_auth, jwt_auth', async () => {
    writeFileSync(join(tmp.dir, 'htpasswd'), `carol:${hash('x')}\n`);
    writeFileSync(join(tmp.dir, 'oidc.key'), `${'k'.repeat(48)}\n`);
    // Written in another order than the one they are asked in: the order is fixed, not the file's.
    const yaml =
      section() +
      `jwt_auth:\n  issuers:\n    - {issuer: "https://ci.example", audience: reg}\n` +
      `oidc_auth:\n  issuer: https://idp.example\n  client_id: regauth\n  redirect_url: https://auth.example/oidc/callback\n  registry_url: reg\n  secret_file: oidc.key\n` +
      `ext_auth: {command: sh}\nusers_file: htpasswd\nusers:\n  admin: {password: "${hash('x')}"}\n`;
    const runtime = createRuntime(load(yaml), {
      ldapClient: () => {
        throw new Error('no directory in this test');
      },
    });
    expect(runtime.authenticators.map((a) => a.name)).toEqual([
      'users',
      'users_file',
      'ext_auth',
      'ldap_auth',
      'oidc_auth',
      'jwt_auth',
    ]);
    await closeRuntime(runtime);
  });

  test('errors never show the bind password', () => {
    expect(errorsOf(section({ tls: 'yes' }))).not.toContain('s3cret-bind');
  });
});

describe('utf8Escapes: RFC 4515 escapes of characters outside ASCII, written as the characters', () => {
  test.each([
    ['(cn=d\\c3\\a9v)', '(cn=dév)'],
    ['(cn=D\\C3\\A9V)', '(cn=DéV)'],
    ['(memberOf=cn=\\e6\\97\\a5\\e6\\9c\\ac,ou=g)', '(memberOf=cn=日本,ou=g)'],
    ['(cn=\\f0\\9f\\90\\b3)', '(cn=🐳)'],
    // ASCII escapes keep their meaning: a literal star, parenthesis, backslash.
    ['(cn=a\\2a\\28\\29\\5c)', '(cn=a\\2a\\28\\29\\5c)'],
    ['(cn=\\5c\\c3\\a9)', '(cn=\\5cé)'],
    // Bytes that are no whole UTF-8 character stay escaped.
    ['(cn=\\c3)', '(cn=\\c3)'],
    ['(cn=\\c0\\af)', '(cn=\\c0\\af)'],
    ['(cn=\\ed\\a0\\80)', '(cn=\\ed\\a0\\80)'],
    ['(cn=\\a9\\c3\\a9)', '(cn=\\a9é)'],
    ['(uid=${account})', '(uid=${account})'],
  ])('%s → %s', (filter, expected) => {
    expect(utf8Escapes(filter)).toBe(expected);
  });
});
