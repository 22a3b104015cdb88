import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { startSlapd, type Slapd } from './harness/slapd.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = resolve(ROOT, 'dist/cli/main.js');
const SUFFIX = 'dc=example,dc=org';
/** A verb that has answered must be gone well within this (it answers in well under a second). */
const EXIT_WITHIN_MS = 30_000;

interface Run {
  code: number | null;
  /** True when the verb had to be killed: it did not exit by itself. */
  hung: boolean;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as an operator (or a CI step) does, killing it if it does not exit in time. */
function regauth(args: string[], input = ''): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let hung = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, EXIT_WITHIN_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, hung, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

const tmp = tempDir('regauth-cli-ldap-');
const pw = { bob: randomPassword(), svc: randomPassword() };
let slapd: Slapd;
let config = '';
const file = (name: string, text: string) => {
  const p = join(tmp.dir, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
};

beforeAll(async () => {
  ensureBuilt();
  slapd = await startSlapd({
    dir: join(tmp.dir, 'slapd'),
    tls: true,
    ldif: [
      `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
      `dn: uid=bob,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: bob\ncn: bob\nsn: bob\nuserPassword: ${pw.bob}\n`,
      `dn: uid=svc,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: svc\ncn: svc\nsn: svc\nuserPassword: ${pw.svc}\n`,
      `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n`,
      `dn: cn=devs,ou=groups,${SUFFIX}\nobjectClass: groupOfNames\ncn: devs\nmember: uid=bob,ou=people,${SUFFIX}\n`,
    ].join('\n'),
  });
  const keys = await regauth(['keys', 'init', '--dir', join(tmp.dir, 'keys')]);
  expect(keys.code).toBe(0);
  file('bind-password', `${pw.svc}\n`);
  config = file(
    'ldap.yml',
    `token:
  issuer: regauth-test
  key: keys/token.key
  certificate: keys/token.pem
  services: [registry.test]
ldap_auth:
  addr: "127.0.0.1:${slapd.port}"
  tls: starttls
  ca_certificate: ${slapd.ca!.caPath}
  bind_dn: "uid=svc,ou=people,${SUFFIX}"
  bind_password_file: bind-password
  base: "ou=people,${SUFFIX}"
  filter: "(&(objectClass=inetOrgPerson)(uid=\${account}))"
  group_search:
    base: "ou=groups,${SUFFIX}"
    filter: "(&(objectClass=groupOfNames)(member=\${dn}))"
    attribute: cn
    label: groups
acl:
  - match: {name: "\${labels:groups}/*"}
    actions: [pull, push]
    comment: a group's namespace
`,
  );
}, 120_000);

afterAll(async () => {
  await slapd?.stop();
  tmp.cleanup();
});

describe('every verb exits once it has answered, with ldap_auth against a live slapd', () => {
  test('check --password-stdin: the directory is asked, the answer printed, and the process exits', async () => {
    const run = await regauth(
      [
        'check',
        '-c',
        config,
        '--service',
        'registry.test',
        '--account',
        'bob',
        '--password-stdin',
        '--scope',
        'repository:devs/app:push',
      ],
      pw.bob,
    );
    expect(run.hung).toBe(false);
    expect(run.stdout).toContain('granted: push');
    expect(run.code).toBe(0);
  });

  test('check with a wrong password: exit 1, and the process exits', async () => {
    const run = await regauth(
      [
        'check',
        '-c',
        config,
        '--service',
        'registry.test',
        '--account',
        'bob',
        '--password-stdin',
        '--scope',
        'repository:devs/app:push',
      ],
      'wrong',
    );
    expect(run.hung).toBe(false);
    expect(run.code).toBe(1);
  });

  test('check without a password, validate, test, doctor: each exits', async () => {
    const tests = file(
      'policy.yml',
      '- {account: bob, labels: {groups: [devs]}, scope: "repository:devs/app:push", expect: [push]}\n',
    );
    const registry = file(
      'registry.yml',
      `auth:\n  token:\n    realm: http://127.0.0.1:5001/auth\n    service: registry.test\n    issuer: regauth-test\n    rootcertbundle: ${join(tmp.dir, 'keys/bundle.pem')}\n`,
    );
    // One after the other: on a loaded machine four at once could take long enough to look hung.
    const runs: Run[] = [];
    for (const args of [
      [
        'check',
        '-c',
        config,
        '--service',
        'registry.test',
        '--account',
        'bob',
        '--label',
        'groups=devs',
        '--scope',
        'repository:devs/app:push',
      ],
      ['validate', '-c', config],
      ['test', '-c', config, tests],
      ['doctor', '-c', config, '--registry-config', registry],
    ])
      runs.push(await regauth(args));
    expect(runs.map((r) => ({ hung: r.hung, code: r.code }))).toEqual(
      runs.map(() => ({ hung: false, code: 0 })),
    );
  });
});

describe('a directory the verbs cannot use: its own exit code and the next step', () => {
  const ldapConfig = (name: string, ldap: string) =>
    file(
      name,
      `token: {issuer: regauth-test, key: keys/token.key, certificate: keys/token.pem, services: [registry.test]}
ldap_auth:
${ldap}
  base: "ou=people,${SUFFIX}"
  filter: "(uid=\${account})"
  connect_timeout: 2
acl: []
`,
    );
  const check = (config: string) =>
    regauth(
      ['check', '-c', config, '--account', 'bob', '--password-stdin', '--scope', 'repository:devs/app:pull'],
      pw.bob,
    );

  test('ldaps to a directory whose CA is not trusted: exit 3, saying to set ldap_auth.ca_certificate', async () => {
    const run = await check(
      ldapConfig('untrusted.yml', `  addr: "127.0.0.1:${slapd.ldapsPort}"\n  tls: always`),
    );
    expect(run.hung).toBe(false);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      "set ldap_auth.ca_certificate to the CA that signed the directory's certificate",
    );
    expect(run.stderr).not.toContain(pw.bob);
  });

  test('a directory that does not answer: exit 3 (not 2, bad usage)', async () => {
    await slapd.stop();
    try {
      const run = await check(ldapConfig('down.yml', `  addr: "127.0.0.1:${slapd.port}"`));
      expect(run.hung).toBe(false);
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(/^regauth: ldap_auth: .+/);
    } finally {
      await slapd.start();
    }
  });
});
