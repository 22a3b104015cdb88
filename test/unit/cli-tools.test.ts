import bcrypt from 'bcryptjs';
import {
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { processIO } from '../../src/cli/tools.js';
import { UsageError } from '../../src/core/errors.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { regauth } from '../helpers/cli.js';

const tmp = tempDir('regauth-cli-');
const alicePassword = randomPassword();
const keyDir = join(tmp.dir, 'keys');
let configFile = '';

const write = (name: string, text: string) => {
  const file = join(tmp.dir, name);
  writeFileSync(file, text);
  return file;
};

const kidsIn = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, 'jwks.json'), 'utf8')) as { keys: { kid: string }[] }).keys.map(
    (k) => k.kid,
  );
const keyOf = (dir: string, key: string, cert: string) =>
  loadSigningKey({
    keyPem: readFileSync(join(dir, key), 'utf8'),
    certPem: readFileSync(join(dir, cert), 'utf8'),
    x5c: false,
    kidFormat: 'thumbprint',
  });

beforeAll(async () => {
  expect((await regauth(['keys', 'init', '--dir', keyDir])).code).toBe(0);
  configFile = write(
    'config.yml',
    `server: {path_prefix: /regauth}
token:
  issuer: acme
  key: keys/token.key
  certificate: keys/token.pem
  services: [registry.test]
users:
  alice:
    password: "${hash(alicePassword)}"
    labels: {group: [devs]}
  admin:
    password: "${hash(randomPassword())}"
    labels: {group: [admins]}
acl:
  - match: {labels: {group: admins}}
    actions: ["*"]
    comment: admins
  - match: {account: "/.+/", name: "\${account}/**"}
    actions: ["*"]
    comment: own namespace
  - match: {labels: {group: devs}, name: "team/*"}
    actions: [pull]
    comment: devs pull team
  - match: {name: "blocked/*"}
    actions: []
    comment: blocked
`,
  );
});
afterAll(() => tmp.cleanup());

describe('regauth validate', () => {
  test('a clean config: ok, exit 0', async () => {
    expect(await regauth(['validate', '-c', configFile])).toEqual({
      code: 0,
      stdout: `${configFile}: ok\n`,
      stderr: '',
    });
  });

  test('warnings: each with its YAML path, exit 1', async () => {
    const file = write(
      'lint.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}
users:
  alice: {labels: {group: [devs]}}
acl:
  - match: {account: alice, name: "Team/*"}
    actions: [pull]
  - match: {name: "/team/*"}
    actions: [pull]
  - match: {name: "{labels:group}/*"}
    actions: [pull]
  - match: {name: "\${labels:team}/*"}
    actions: [pull]
  - match: {labels: {group: devs}, name: "\${labels:group}/**"}
    actions: [pull, scan]
  - match: {name: "Team/*", account: alice}
    actions: [push]
  - match: {}
    actions: []
    comment: deny the rest
  - match: {account: bob}
    actions: [pull]
`,
    );
    const run = await regauth(['validate', '-c', file]);
    expect(run.code).toBe(1);
    expect(run.stdout.split('\n')).toEqual([
      'warning: acl[0].match.name: "Team/*" has upper case letters; repository names are lower case, so it never matches',
      'warning: acl[1].match.name: "/team/*" starts with "/" but is not a /regex/ (it must also end with "/"); as a glob it never matches a repository name',
      'warning: acl[2].match.name: {labels:group} is a literal brace alternative, not a placeholder; did you mean ${labels:group}?',
      'warning: acl[3].match.name: no authenticator produces label "team": no user in users: has it and no ext_auth, ldap_auth, oidc_auth or jwt_auth is configured, so this rule never matches',
      'warning: acl[4].actions[1]: unknown action "scan"; the registry uses pull, push, delete and "*"',
      'warning: acl[5]: never decides: acl[0] has the same match and comes first',
      'warning: acl[5].match.name: "Team/*" has upper case letters; repository names are lower case, so it never matches',
      'warning: acl[7]: never decides: acl[6] ("deny the rest") matches every request first (match: {})',
      `${file}: valid, with 8 warnings`,
      '',
    ]);
  });

  test('a glob that is not one (an unclosed "[" or "{", an empty range), or a class docker_auth refused: warned', async () => {
    const file = write(
      'bad-glob.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}
users: {}
acl:
  - match: {name: "team/[a-"}
    actions: [pull]
  - match: {name: "team/[z-a]"}
    actions: [pull]
  - match: {service: "{a,b"}
    actions: [pull]
  - match: {name: "team/[a-]*", account: "{alice,[!x]*}"}
    actions: [pull]
  - match: {name: "team/[a-z-0]x"}
    actions: [pull]
  - match: {name: "team/\\\\[a"}
    actions: [pull]
`,
    );
    const run = await regauth(['validate', '-c', file]);
    expect(run.stdout.split('\n')).toEqual([
      'warning: acl[0].match.name: "team/[a-" is not a glob: "[" has no closing "]", so it is matched as a literal "["',
      'warning: acl[1].match.name: "team/[z-a]" is not a glob: the range "z-a" is empty, so it matches nothing',
      'warning: acl[2].match.service: "{a,b" is not a glob: "{" has no closing "}", so it is matched as a literal "{"',
      // Well-formed here, refused by Go's path.Match: docker_auth never matched these rules.
      'warning: acl[3].match.name: "team/[a-]*": "]" where a range\'s end is due: docker_auth (Go\'s path.Match) never matched this rule, and here it matches; escape a "-" or "]" meant as a member (\\-, \\]), or remove the rule',
      'warning: acl[4].match.name: "team/[a-z-0]x": "-" where a member is due: docker_auth (Go\'s path.Match) never matched this rule, and here it matches; escape a "-" or "]" meant as a member (\\-, \\]), or remove the rule',
      `${file}: valid, with 5 warnings`,
      '',
    ]);
    expect(run.code).toBe(1);
  });

  test('no authenticator, no ACL rule: warned, as docker_auth refuses both', async () => {
    const bare = write('bare.yml', `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}\n`);
    const run = await regauth(['validate', '-c', bare]);
    expect(run.stdout.split('\n')).toEqual([
      'warning: no authenticator is configured (users, users_file, ldap_auth, oidc_auth, jwt_auth or ext_auth): every token request is refused, anonymous ones too; write users: {} to refuse them on purpose',
      'warning: acl: no rule and no ext_authz: every requested scope is denied',
      `${bare}: valid, with 2 warnings`,
      '',
    ]);
    expect(run.code).toBe(1);
    // An empty users map (refuse every request) and ext_authz deciding every scope: on purpose.
    const deliberate = write(
      'deliberate.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}\nusers: {}\next_authz: {command: sh}\n`,
    );
    expect(await regauth(['validate', '-c', deliberate])).toMatchObject({ code: 0 });
  });

  // Found by the users review: an empty users_file (a file cut short, the wrong path's file)
  // loaded as zero accounts, and nothing said that every login through it would fail.
  test('a users_file with no account: warned', async () => {
    const empty = write('empty.htpasswd', '# nobody yet\n\n');
    const file = write(
      'empty-users-file.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}\nusers_file: ${empty}\nacl: [{match: {}, actions: []}]\n`,
    );
    expect((await regauth(['validate', '-c', file])).stdout.split('\n')).toEqual([
      `warning: users_file: ${empty} holds no account: every login it would check is refused`,
      `${file}: valid, with 1 warning`,
      '',
    ]);
  });

  test('a bcrypt cost above 13: warned, since every failed login is padded to it', async () => {
    const costly = (cost: string) => hash(randomPassword()).replace(/^\$2y\$04\$/, `$2y$${cost}$`);
    const file = write(
      'costly.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}
users:
  alice: {password: "${costly('13')}"}
  bob: {password: "${costly('16')}"}
acl: [{match: {}, actions: []}]
`,
    );
    expect((await regauth(['validate', '-c', file])).stdout.split('\n')).toEqual([
      'warning: users.bob.password: bcrypt cost 16: every failed login, for any account (made-up ones too), is padded to the highest configured cost, here 64 times the work of cost 10; 10 to 13 is usual',
      `${file}: valid, with 1 warning`,
      '',
    ]);
    const fine = write(
      'fine.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}\nusers:\n  alice: {password: "${costly('13')}"}\nacl: [{match: {}, actions: []}]\n`,
    );
    expect(await regauth(['validate', '-c', fine])).toMatchObject({ code: 0 });
  });

  test('a jwt_auth issuer without required_claims: warned, since any job it signs for logs in', async () => {
    const file = write(
      'ci.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}
jwt_auth:
  issuers:
    - {issuer: "https://token.actions.githubusercontent.com", audience: registry, account_claim: repository}
    - issuer: https://gitlab.example.com
      audience: registry
      required_claims: {namespace_path: [acme]}
acl: [{match: {}, actions: [pull]}]
`,
    );
    expect((await regauth(['validate', '-c', file])).stdout.split('\n')).toEqual([
      "warning: jwt_auth.issuers[0]: no required_claims: every job https://token.actions.githubusercontent.com signs a token for, in any project of any owner, logs in (a job may ask for any audience); unless the issuer signs only for your jobs (your own GitLab, your cluster), name the owners by ID, e.g. required_claims: {repository_owner_id: ['1234567']} (a name freed by a rename or deletion can be registered by anyone)",
      `${file}: valid, with 1 warning`,
      '',
    ]);
  });

  test('the registry page with oidc_auth behind ext_auth: warned, since its sessions are refused', async () => {
    write('oidc.secret', 'x'.repeat(48));
    const file = write(
      'page.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}
ext_auth: {command: sh}
oidc_auth:
  issuer: https://id.example.com
  client_id: regauth
  redirect_url: https://auth.example.com/oidc/callback
  registry_url: registry.example.com
  secret_file: oidc.secret
catalog: {registry_url: "http://127.0.0.1:9", realm: "https://auth.example.com/auth", registry_service: registry.example.com}
acl: [{match: {}, actions: [pull]}]
`,
    );
    expect((await regauth(['validate', '-c', file])).stdout.split('\n')).toEqual([
      'warning: catalog: the registry page cannot keep oidc_auth sessions: ext_auth comes before oidc_auth and cannot say, without a password, whether it holds an account, so every session is refused; the page takes Basic credentials only',
      `${file}: valid, with 1 warning`,
      '',
    ]);
  });

  test('ext_auth can produce any label: no unknown-label warning', async () => {
    const file = write(
      'ext.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}
ext_auth: {command: sh}
acl:
  - match: {name: "\${labels:team}/*"}
    actions: [pull]
`,
    );
    expect((await regauth(['validate', '-c', file])).code).toBe(0);
  });

  test('a placeholder next to a wildcard: warned (a prefix of one name claims another)', async () => {
    const file = write(
      'prefix.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}
users:
  "": {}
acl:
  - match: {name: "\${account}*"}
    actions: [pull, push]
  - match: {name: "*\${account}"}
    actions: [pull]
  - match: {name: "\${account}/*"}
    actions: [pull]
`,
    );
    const run = await regauth(['validate', '-c', file]);
    expect(run.code).toBe(1);
    expect(run.stdout.split('\n')).toEqual([
      'warning: acl[0].match.name: "${account}*": a wildcard directly next to a placeholder lets a shorter value claim longer names (\"al\" matches \"alice-secret\"); put a separator between them, as in \"${account}/*\"; with an empty value (the anonymous account, no service, an empty label value) the rule denies',
      'warning: acl[1].match.name: \"*${account}\": a wildcard directly next to a placeholder lets a shorter value claim longer names (\"al\" matches \"alice-secret\"); put a separator between them, as in \"${account}/*\"; with an empty value (the anonymous account, no service, an empty label value) the rule denies',
      `${file}: valid, with 2 warnings`,
      '',
    ]);
  });

  test('an invalid config: errors with path and line, exit 2', async () => {
    const file = write(
      'bad.yml',
      'token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}\nacl:\n  - match: {team: x}\n    actions: []\n',
    );
    const run = await regauth(['validate', '-c', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'line 3: acl[0].match.team: unknown key; expected one of account, type, name, service, ip, labels',
    );
  });

  test.each(['validate', 'check', 'test', 'doctor'])(
    '%s -c defaults to config.yml, as serve does',
    async (verb) => {
      const run = await regauth([verb, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout.replace(/\s+/g, ' ')).toContain(
        '-c, --config <file> config file (default: "config.yml")',
      );
    },
  );

  test('label values: a rule matching a value no static user has (and no other backend) is a warning', async () => {
    const file = write(
      'label-values.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}
users:
  alice: {labels: {group: [devs]}}
acl:
  - match: {labels: {group: admins}}
    actions: ["*"]
  - match: {labels: {group: "/dev.*/"}}
    actions: [pull]
  - match: {labels: {group: "\${account}"}}
    actions: [pull]
`,
    );
    const run = await regauth(['validate', '-c', file]);
    expect(run.stdout.split('\n')).toEqual([
      'warning: acl[0].match.labels.group: no authenticator produces label group with a value matching "admins": no user in users: or users_file has one and no ext_auth, ldap_auth, oidc_auth or jwt_auth is configured, so this rule never matches',
      `${file}: valid, with 1 warning`,
      '',
    ]);
    expect(run.code).toBe(1);
  });
});

describe('account names the token endpoint refuses', () => {
  // Found by a review: a users: key such as "admin\u3164" (a Hangul filler, which renders as
  // nothing) passed validate without a word, and check reported a grant, while the token endpoint
  // answers 400 invalid account name to every login under it.
  const file = () =>
    write(
      'invisible.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}
users:
  "admin\\u3164": {password: "${hash(alicePassword)}"}
  alice: {password: "${hash(alicePassword)}"}
acl:
  - match: {account: "/.+/"}
    actions: [pull]
`,
    );

  test('validate warns about a users: key that can never log in', async () => {
    const run = await regauth(['validate', '-c', file()]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      // The name as JSON would write it, its invisible character escaped: printed as it is, it
      // reads as `admin`, another account (a review found).
      'warning: users["admin\\u3164"]: this account can never log in: the token endpoint refuses names with whitespace, control or invisible characters, or over 256 characters (400 invalid account name)\n',
    );
  });

  test.each([[[] as string[]], [['--password-stdin']]])(
    'check %j refuses the name, exit 2',
    async (extra) => {
      const run = await regauth(
        ['check', '-c', file(), '--account', 'admin\u3164', '--scope', 'repository:a/b:pull', ...extra],
        alicePassword,
      );
      expect(run).toEqual({
        code: 2,
        stdout: '',
        stderr:
          'regauth: invalid --account "admin\\u3164": the token endpoint refuses names with whitespace, control or invisible characters, or over 256 characters (400 invalid account name)\n',
      });
    },
  );

  test('test: an expectation for such a name is decided as the token endpoint answers it, 400', async () => {
    // It passed when the ACL granted what it expected, though every login under the name gets 400.
    const tests = write(
      'invisible-tests.yml',
      `- {account: "admin\\u3164", scope: "repository:a/b:pull", expect: [pull]}
- {account: "admin\\u3164", scope: "repository:a/b:pull", expect: []}
`,
    );
    const run = await regauth(['test', '-c', file(), tests]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(
      'FAIL [0] (line 1) "admin\\u3164" repository:a/b:pull: granted [], expected [pull]; decided by the token endpoint: 400 invalid account name\n1 passed, 1 failed\n',
    );
  });

  // Found with the config review's Latin-1 config: a Latin-1 "josé" in a test file expected
  // the account "jos\uFFFD", one no login can have.
  test('test: a test file that is not UTF-8 is refused with the line of the bad byte', async () => {
    const tests = join(tmp.dir, 'latin1-tests.yml');
    const head = '- {account: bob, scope: "repository:a/b:pull", expect: []}\n- {account: "jos';
    writeFileSync(
      tests,
      Buffer.concat([
        Buffer.from(head),
        Buffer.from([0xe9]),
        Buffer.from('", scope: "repository:a/b:pull", expect: []}\n'),
      ]),
    );
    const run = await regauth(['test', '-c', file(), tests]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `line 2: not UTF-8 (byte 0xe9 at offset ${head.length}); save the file as UTF-8`,
    );
  });

  test('test: an account named (anonymous) is quoted, so it never reads as the anonymous request', async () => {
    // Found by a review of 5496f90: both FAIL lines read `(anonymous)`.
    const tests = write(
      'anonymous-named.yml',
      `- {account: "(anonymous)", labels: {}, scope: "repository:a/b:pull", expect: [push]}
- {account: "", scope: "repository:a/b:pull", expect: [push]}
`,
    );
    const run = await regauth(['test', '-c', file(), tests]);
    expect(run.stdout.split('\n').slice(0, 2)).toEqual([
      'FAIL [0] (line 1) "(anonymous)" repository:a/b:pull: granted [pull], expected [push]; decided by acl[0]',
      'FAIL [1] (line 2) (anonymous) repository:a/b:pull: granted [], expected [push]; decided by anonymous requests get no token: no `""` entry without a password in users: or users_file, and no ext_auth (no other backend logs in an anonymous request; the token endpoint answers 401)',
    ]);
  });

  test('test: no note asks for labels of such a name (nothing changes its 400), and names that could be misread are quoted', async () => {
    // Found by a review of a47ee5e: the note printed `admin\u3164` raw (reading as admin), and a
    // FAIL line printed an accepted name holding quotes or backslashes like a refused one.
    writeFileSync(join(tmp.dir, 'ldap-bind-pw'), 'x\n');
    const config = write(
      'invisible-ldap.yml',
      `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}
ldap_auth: {addr: "ldap.example.org:389", bind_dn: "cn=svc,dc=example,dc=org", bind_password_file: ldap-bind-pw, base: "dc=example,dc=org", filter: "(uid=\${account})"}
acl:
  - match: {account: "/.+/"}
    actions: [pull]
`,
    );
    const tests = write(
      'invisible-ldap-tests.yml',
      `- {account: "admin\\u3164", scope: "repository:a/b:pull", expect: []}
- {account: 'a"b\\', labels: {}, scope: "repository:a/b:pull", expect: [push]}
`,
    );
    const run = await regauth(['test', '-c', config, tests]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(
      'FAIL [1] (line 2) "a\\"b\\\\" repository:a/b:pull: granted [pull], expected [push]; decided by acl[0]\n1 passed, 1 failed\n',
    );
  });
});

describe('regauth check', () => {
  test.each([
    [
      'own namespace',
      ['--account', 'alice', '--label', 'group=none', '--scope', 'repository:alice/app:push,pull'],
      'repository:alice/app:pull,push\n  granted: pull,push\n  decided: acl[1] "own namespace"\n',
    ],
    [
      'labels from --label',
      ['--account', 'carol', '--label', 'group=devs', '--scope', 'repository:team/app:push,pull'],
      'repository:team/app:pull,push\n  granted: pull\n  decided: acl[2] "devs pull team"\n',
    ],
    [
      'no rule',
      ['--account', 'carol', '--scope', 'repository:team/app:pull'],
      'repository:team/app:pull\n  granted: (nothing)\n  decided: no rule matched (deny by default)\n',
      'labels: (none): "carol" is not in users: or users_file, and no other backend is configured\n',
    ],
  ])('%s', async (_name, args, stdout, stderr = '') => {
    expect(await regauth(['check', '-c', configFile, '--service', 'registry.test', ...args])).toEqual({
      code: 0,
      stdout,
      stderr,
    });
  });

  test("no --label: the labels the config's users: hold for the account are used, and said", async () => {
    const run = await regauth([
      'check',
      '-c',
      configFile,
      '--service',
      'registry.test',
      '--account',
      'alice',
      '--scope',
      'repository:team/app:push,pull',
    ]);
    expect(run).toEqual({
      code: 0,
      stdout: 'repository:team/app:pull,push\n  granted: pull\n  decided: acl[2] "devs pull team"\n',
      stderr: 'labels: group=devs (what users: holds for "alice"; give --label to check with others)\n',
    });
  });

  test('no --label, an account in users_file: its (empty) labels are used, and said', async () => {
    write('htpasswd', `dave:${hash(randomPassword())}\n`);
    const file = write(
      'users-file.yml',
      'token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}\nusers_file: htpasswd\nacl:\n  - match: {account: dave}\n    actions: [pull]\n',
    );
    const run = await regauth(['check', '-c', file, '--account', 'dave', '--scope', 'repository:a/b:pull']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      'labels: (none) (what users_file holds for "dave"; give --label to check with others)\n',
    );
  });

  test("no --label, an account no static backend holds: says other backends' labels are not known offline", async () => {
    const file = write(
      'ext-labels.yml',
      'token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}\next_auth: {command: sh}\nacl:\n  - match: {labels: {team: a}}\n    actions: [pull]\n',
    );
    const run = await regauth(['check', '-c', file, '--account', 'bob', '--scope', 'repository:a/b:pull']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('granted: (nothing)');
    expect(run.stderr).toBe(
      'labels: (none): "bob" is not in users: or users_file, and the labels ext_auth gives are not known offline; pass them with --label key=value (repeatable), or use --password-stdin to ask the backends\n',
    );
  });

  test('no --service: the only service token.services lists is the one checked', async () => {
    const run = await regauth([
      'check',
      '-c',
      configFile,
      '--account',
      'alice',
      '--label',
      'group=none',
      '--scope',
      'repository:alice/app:pull',
    ]);
    expect(run).toEqual({
      code: 0,
      stdout: 'repository:alice/app:pull\n  granted: pull\n  decided: acl[1] "own namespace"\n',
      stderr: '',
    });
  });

  test('no --service with several in token.services: exit 2, naming --service and the choices', async () => {
    const file = write(
      'two-services.yml',
      'token: {issuer: x, key: keys/token.key, certificate: keys/token.pem, services: [a.test, b.test]}\nacl: []\n',
    );
    const run = await regauth(['check', '-c', file, '--account', 'x', '--scope', 'repository:a/b:pull']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'regauth: token.services lists a.test, b.test: give the one to check with --service (the token endpoint answers 400 for any other)\n',
    );
  });

  test('--json: one object per scope with granted and rule', async () => {
    const run = await regauth([
      'check',
      '-c',
      configFile,
      '--service',
      'registry.test',
      '--account',
      'carol',
      '--json',
      '--scope',
      'repository:blocked/x:pull',
      '--scope',
      'repository:other/x:pull',
    ]);
    expect(run.code).toBe(0);
    expect(
      run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([
      {
        scope: 'repository:blocked/x:pull',
        granted: [],
        rule: { index: 3, path: 'acl[3]', comment: 'blocked' },
        authorizer: 'acl',
      },
      { scope: 'repository:other/x:pull', granted: [], rule: null, authorizer: null },
    ]);
  });

  test('--password-stdin runs the real authenticators and uses their labels', async () => {
    const args = [
      'check',
      '-c',
      configFile,
      '--service',
      'registry.test',
      '--account',
      'alice',
      '--password-stdin',
      '--json',
      '--scope',
      'repository:team/app:pull',
    ];
    const ok = await regauth(args, `${alicePassword}\n`);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ granted: ['pull'], rule: { index: 2 } });
    const wrong = await regauth(args, 'wrong\n');
    expect(wrong).toEqual({
      code: 1,
      stdout: '',
      stderr: 'regauth: authentication failed for "alice": wrong password (users)\n',
    });
    expect(wrong.stderr).not.toContain(alicePassword);
  });

  test.each([
    [['--scope', 'repository:Bad:pull'], 'invalid scope: invalid repository name "Bad"'],
    [[], "required option '--scope <scope>' not specified"],
    [['--scope', 'repository:a:pull', '--label', 'nokey'], 'invalid --label "nokey"; expected key=value'],
    [['--scope', 'repository:a:pull', '--ip', '10.1.2'], 'invalid --ip "10.1.2"'],
    // A block is no client: it matched no `ip` rule, so check answered for nobody.
    [['--scope', 'repository:a:pull', '--ip', '10.0.0.0/8'], 'invalid --ip "10.0.0.0/8"'],
    [['--scope', 'repository:a:pull', '--service', 'other'], 'service "other" is not in token.services'],
  ])('bad input %j: exit 2', async (args, message) => {
    const service = args.includes('--service') ? [] : ['--service', 'registry.test'];
    const run = await regauth(['check', '-c', configFile, '--account', 'alice', ...service, ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });
});

test('--help lists every exit code, an unreachable backend (3) and a bug (70) included', async () => {
  const run = await regauth(['--help']);
  const help = run.stdout.replace(/\s+/g, ' ');
  expect(help).toContain(
    'Exit codes: 0 ok; 1 a finding (lint warning, failed expectation, doctor problem, failed authentication, a decision replay finds changed); 2 bad usage, an invalid config, a file named that cannot be read or written, or a replay that re-decided nothing; 3 a backend could not answer',
  );
  expect(help).toContain('; 70 a bug in regauth');
});

test('check --help says --scope is required and repeatable', async () => {
  const run = await regauth(['check', '--help']);
  expect(run.code).toBe(0);
  expect(run.stdout.replace(/\s+/g, ' ')).toContain(
    '--scope <scope> a scope, e.g. repository:team/app:push,pull (required; repeatable, at least one)',
  );
});

describe('-c: every verb that reads a config defaults it to config.yml', () => {
  test('who-can and replay without -c read config.yml in the working directory', async () => {
    const audit = write('empty-audit.log', '');
    const cwd = process.cwd();
    process.chdir(tmp.dir);
    try {
      const who = await regauth(['who-can', 'repository:team/app:pull']);
      expect(who.stderr).toBe('');
      expect(who.code).toBe(0);
      expect(who.stdout).toContain('acl[2] "devs pull team"');
      const replay = await regauth(['replay', '--audit', audit]);
      // The config was read (no config error); the empty log re-decides nothing, which is exit 2.
      expect(replay.stderr).toMatch(/^regauth: nothing was re-decided: 0 lines read[^\n]*\n$/);
      expect(replay.stdout).toContain('replayed 0 lines');
      expect(replay.code).toBe(2);
    } finally {
      process.chdir(cwd);
    }
  });

  test.each(['who-can', 'replay'])('%s --help gives the default', async (verb) => {
    const run = await regauth([verb, '--help']);
    expect(run.stdout.replace(/\s+/g, ' ')).toMatch(/-c, --config <file> [^\n]*\(default: "config\.yml"\)/);
  });
});

/** The `--help` text of one option (its line and the lines it wraps onto). */
function optionHelp(help: string, flag: string): string {
  const block = help.split(/\n(?=\s+-)/).find((b) => b.trim().startsWith(flag));
  if (block === undefined) throw new Error(`no ${flag} in:\n${help}`);
  return block.replace(/\s+/g, ' ').trim();
}

test.each([
  [['check'], '--account <name>'],
  [['check'], '--scope <scope>'],
  [['replay'], '--audit <file>'],
  [['keys', 'init'], '--dir <dir>'],
  [['keys', 'rotate'], '--dir <dir>'],
  [['keys', 'activate'], '--dir <dir>'],
  [['doctor'], '--registry-config <file>'],
])('%j --help says %s is required', async (verb, flag) => {
  const run = await regauth([...verb, '--help']);
  expect(run.code).toBe(0);
  expect(optionHelp(run.stdout, flag)).toMatch(/\(required[;)]/);
});

test('check --help says where labels come from without --label', async () => {
  const run = await regauth(['check', '--help']);
  expect(run.stdout.replace(/\s+/g, ' ')).toContain(
    "without it (and without --password-stdin), the labels the config's users: or users_file hold for the account",
  );
});

test('test --help lists every expectation key policy tests accept, comment included', async () => {
  const run = await regauth(['test', '--help']);
  expect(run.code).toBe(0);
  expect(run.stdout.replace(/\s+/g, ' ')).toContain(
    '{account, scope, expect: [actions], labels?, service?, ip?, comment?}',
  );
});

describe('regauth test', () => {
  test('every expectation holds: exit 0', async () => {
    const file = write(
      'pass.yml',
      `- {account: alice, scope: "repository:alice/app:push,pull", expect: [pull, push]}
- {account: bob, labels: {group: [devs]}, scope: "repository:team/app:push,pull", expect: [pull]}
- {account: "", scope: "repository:blocked/x:pull", expect: []}
`,
    );
    expect(await regauth(['test', '-c', configFile, file])).toEqual({
      code: 0,
      stdout: '3 passed, 0 failed\n',
      stderr: '',
    });
  });

  test("an expectation without labels: uses the labels the config's users: hold for the account", async () => {
    const file = write(
      'static-labels.yml',
      `- {account: alice, scope: "repository:team/app:push,pull", expect: [pull]}
- {account: alice, labels: {}, scope: "repository:team/app:pull", expect: []}
`,
    );
    expect(await regauth(['test', '-c', configFile, file])).toEqual({
      code: 0,
      stdout: '2 passed, 0 failed\n',
      stderr: '',
    });
  });

  test('a service the token endpoint refuses grants nothing, as the server decides; none given is the only one listed', async () => {
    const file = write(
      'services.yml',
      `- {account: alice, scope: "repository:alice/app:pull", expect: [pull]}
- {account: alice, service: registry.test, scope: "repository:alice/app:pull", expect: [pull]}
- {account: alice, service: other.test, scope: "repository:alice/app:pull", expect: [pull]}
- {account: alice, service: "", scope: "repository:alice/app:pull", expect: []}
`,
    );
    expect(await regauth(['test', '-c', configFile, file])).toEqual({
      code: 1,
      stdout:
        'FAIL [2] (line 3) alice repository:alice/app:pull: granted [], expected [pull]; decided by the token endpoint: 400 unknown service "other.test" (token.services lists registry.test)\n' +
        '3 passed, 1 failed\n',
      stderr: '',
    });
  });

  test('an expectation without labels for an account only another backend knows: a note says so', async () => {
    const config = write(
      'ext-test.yml',
      'token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}\next_auth: {command: sh}\nacl: []\n',
    );
    const file = write(
      'ext-tests.yml',
      '- {account: bob, scope: "repository:a/b:pull", expect: []}\n- {account: bob, labels: {}, scope: "repository:a/b:pull", expect: []}\n',
    );
    expect(await regauth(['test', '-c', config, file])).toEqual({
      code: 0,
      stdout: '2 passed, 0 failed\n',
      stderr:
        'note: [0] (line 1) "bob": not in users: or users_file, and the labels ext_auth would give are not known offline; checked with none (give them in the expectation\'s labels:)\n',
    });
  });

  test('failures are printed with the deciding rule: exit 1', async () => {
    const file = write(
      'fail.yml',
      `- {account: alice, scope: "repository:alice/app:push", expect: [push]}
- account: bob
  labels: {group: devs}
  scope: "repository:team/app:push,pull"
  expect: [pull, push]
  comment: devs push to team
- {account: carol, scope: "repository:x/y:pull", expect: [pull]}
`,
    );
    expect(await regauth(['test', '-c', configFile, file])).toEqual({
      code: 1,
      stdout:
        'FAIL [1] (line 2) "devs push to team" bob repository:team/app:pull,push: granted [pull], expected [pull, push]; decided by acl[2] "devs pull team"\n' +
        'FAIL [2] (line 7) carol repository:x/y:pull: granted [], expected [pull]; decided by no rule matched (deny by default)\n' +
        '1 passed, 2 failed\n',
      stderr: '',
    });
  });

  test.each([
    ['- {account: a, scope: "repository:x:pull"}\n', 'line 1: [0].expect: required'],
    [
      '- {account: a, scope: "repository:x:pull", expect: [], typo: 1}\n',
      '[0].typo: unknown key; expected one of account, scope, expect, labels, service, ip, comment',
    ],
    [
      '- {account: a, scope: "nonsense", expect: []}\n',
      '[0].scope: malformed scope "nonsense"; expected type:name:actions',
    ],
    ['{account: a}\n', 'must be a YAML list of expectations'],
    ['', 'the file is empty; expected a YAML list of expectations ({account, scope, expect})'],
    ['[]\n', 'the list holds no expectations; expected at least one {account, scope, expect}'],
    [
      '- {account: a, scope: "repository:x:pull", expect: [], labels: {g: 1}}\n',
      'line 1: [0].labels.g: must be a string or a list of strings',
    ],
  ])('a malformed test file: exit 2 (%j)', async (text, message) => {
    const file = write('bad-tests.yml', text);
    const run = await regauth(['test', '-c', configFile, file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`invalid test file ${file}:`);
    expect(run.stderr).toContain(message);
  });
});

describe('regauth hash', () => {
  test('reads stdin, prints a bcrypt hash of the password without its trailing newline', async () => {
    const password = randomPassword();
    const run = await regauth(['hash', '--cost', '4'], `${password}\n`);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\$2b\$04\$[./A-Za-z0-9]{53}\n$/);
    expect(bcrypt.compareSync(password, run.stdout.trim())).toBe(true);
  });

  test('default cost 10', async () => {
    expect((await regauth(['hash'], 'pw')).stdout).toMatch(/^\$2b\$10\$/);
  });

  test.each([
    [[], '', 'refusing to hash an empty password'],
    [[], '\n', 'refusing to hash an empty password'],
    [[], 'x'.repeat(73), 'longer than 72 bytes'],
    [['--cost', '3'], 'pw', '--cost must be an integer from 4 to 31'],
    [['--cost', 'ten'], 'pw', "argument 'ten' is invalid"],
    [['pw'], 'pw', 'too many arguments'],
  ])('%j with stdin %j: exit 2', async (args, stdin, message) => {
    const run = await regauth(['hash', ...args], stdin);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });
});

describe('regauth keys', () => {
  test('keys --help shows an example', async () => {
    const run = await regauth(['keys', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'Example:\n  regauth keys init --dir /etc/regauth/keys\n  regauth keys rotate --dir /etc/regauth/keys',
    );
  });

  test.each(['ES256', 'RS256'] as const)(
    'init --alg %s: key 0600, cert for years, JWKS with v3 kid, blocks to paste',
    async (alg) => {
      const dir = join(tmp.dir, `init-${alg}`);
      const run = await regauth(['keys', 'init', '--dir', dir, '--alg', alg]);
      expect(run.code).toBe(0);
      expect(statSync(join(dir, 'token.key')).mode & 0o777).toBe(0o600);
      const key = loadSigningKey({
        keyPem: readFileSync(join(dir, 'token.key'), 'utf8'),
        certPem: readFileSync(join(dir, 'token.pem'), 'utf8'),
        x5c: true,
        kidFormat: 'libtrust',
      });
      expect(key.alg).toBe(alg);
      const years = (new Date(key.certificates[0]!.validTo).getTime() - Date.now()) / (365 * 86_400_000);
      expect(years).toBeGreaterThan(9);
      expect(readFileSync(join(dir, 'bundle.pem'), 'utf8')).toBe(
        readFileSync(join(dir, 'token.pem'), 'utf8'),
      );
      const jwks = JSON.parse(readFileSync(join(dir, 'jwks.json'), 'utf8')) as {
        keys: { kid: string; d?: string }[];
      };
      expect(jwks.keys.map((k) => k.kid)).toEqual([key.v3Kid, key.libtrustKid]);
      expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
      expect(run.stdout).toContain(`  key: ${join(dir, 'token.key')}\n`);
      expect(run.stdout).toContain(`    rootcertbundle: ${join(dir, 'bundle.pem')}\n`);
      expect(run.stdout).toContain(`    jwks: ${join(dir, 'jwks.json')}`);
    },
  );

  test('init refuses to overwrite a key: exit 2, key unchanged', async () => {
    const before = readFileSync(join(keyDir, 'token.key'), 'utf8');
    const run = await regauth(['keys', 'init', '--dir', keyDir]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('refusing to overwrite a signing key');
    expect(readFileSync(join(keyDir, 'token.key'), 'utf8')).toBe(before);
  });

  test('rotate: a next key beside the current one, which stays token.key; the bundle and the JWKS hold both', async () => {
    const dir = join(tmp.dir, 'rotate');
    await regauth(['keys', 'init', '--dir', dir, '--alg', 'RS256']);
    const oldCert = readFileSync(join(dir, 'token.pem'), 'utf8');
    const oldKey = readFileSync(join(dir, 'token.key'), 'utf8');
    const run = await regauth(['keys', 'rotate', '--dir', dir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`regauth keys activate --dir ${dir}`);
    // regauth goes on signing with the current key: its files are untouched.
    expect(readFileSync(join(dir, 'token.key'), 'utf8')).toBe(oldKey);
    expect(readFileSync(join(dir, 'token.pem'), 'utf8')).toBe(oldCert);
    const nextCert = readFileSync(join(dir, 'next.pem'), 'utf8');
    expect(nextCert).not.toBe(oldCert);
    expect(statSync(join(dir, 'next.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'bundle.pem'), 'utf8')).toBe(oldCert + nextCert);
    const next = keyOf(dir, 'next.key', 'next.pem');
    expect(next.alg).toBe('RS256');
    const kids = kidsIn(dir);
    expect(kids).toHaveLength(4);
    expect(kids).toContain(next.v3Kid);
    expect(kids).toContain(keyOf(dir, 'token.key', 'token.pem').v3Kid);
  });

  test('rotate twice before activation: refused, nothing changed', async () => {
    const dir = join(tmp.dir, 'rotate-twice');
    await regauth(['keys', 'init', '--dir', dir]);
    expect((await regauth(['keys', 'rotate', '--dir', dir])).code).toBe(0);
    const before = ['token.key', 'token.pem', 'next.key', 'next.pem', 'bundle.pem', 'jwks.json'].map((f) =>
      readFileSync(join(dir, f), 'utf8'),
    );
    const run = await regauth(['keys', 'rotate', '--dir', dir]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('a rotation is pending');
    expect(run.stderr).toContain(`regauth keys activate --dir ${dir}`);
    expect(
      ['token.key', 'token.pem', 'next.key', 'next.pem', 'bundle.pem', 'jwks.json'].map((f) =>
        readFileSync(join(dir, f), 'utf8'),
      ),
    ).toEqual(before);
  });

  test('activate: the next key signs, the old one is previous and stays in the bundle; the next rotate keeps it', async () => {
    const dir = join(tmp.dir, 'activate');
    await regauth(['keys', 'init', '--dir', dir]);
    const first = readFileSync(join(dir, 'token.pem'), 'utf8');
    const firstKey = readFileSync(join(dir, 'token.key'), 'utf8');
    await regauth(['keys', 'rotate', '--dir', dir]);
    const second = readFileSync(join(dir, 'next.pem'), 'utf8');
    const secondKey = readFileSync(join(dir, 'next.key'), 'utf8');
    const run = await regauth(['keys', 'activate', '--dir', dir]);
    expect(run.code).toBe(0);
    expect(readFileSync(join(dir, 'token.key'), 'utf8')).toBe(secondKey);
    expect(readFileSync(join(dir, 'token.pem'), 'utf8')).toBe(second);
    expect(readFileSync(join(dir, 'previous.key'), 'utf8')).toBe(firstKey);
    expect(statSync(join(dir, 'previous.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'token.key')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, 'next.key'))).toBe(false);
    expect(existsSync(join(dir, 'next.pem'))).toBe(false);
    expect(readFileSync(join(dir, 'bundle.pem'), 'utf8')).toBe(second + first);
    expect(run.stdout).toContain(keyOf(dir, 'token.key', 'token.pem').libtrustKid);

    // A second activation without a rotation: refused.
    const again = await regauth(['keys', 'activate', '--dir', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('no rotation is pending');
    expect(readFileSync(join(dir, 'token.key'), 'utf8')).toBe(secondKey);

    // The next rotation keeps the previous certificate: tokens it signed may still be valid.
    const rotated = await regauth(['keys', 'rotate', '--dir', dir]);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain('and the previous one');
    const third = readFileSync(join(dir, 'next.pem'), 'utf8');
    expect(readFileSync(join(dir, 'bundle.pem'), 'utf8')).toBe(second + third + first);
    expect(kidsIn(dir)).toHaveLength(6);
    // Its activation retires the second key and drops the first, saying so.
    const activated = await regauth(['keys', 'activate', '--dir', dir]);
    expect(activated.code).toBe(0);
    expect(activated.stdout).toContain('has left the bundle');
    expect(readFileSync(join(dir, 'bundle.pem'), 'utf8')).toBe(third + second);
  });

  test('activate finishes an activation interrupted between its renames', async () => {
    const dir = join(tmp.dir, 'activate-resume');
    await regauth(['keys', 'init', '--dir', dir]);
    await regauth(['keys', 'rotate', '--dir', dir]);
    const next = readFileSync(join(dir, 'next.pem'), 'utf8');
    const first = readFileSync(join(dir, 'token.pem'), 'utf8');
    // As if interrupted: previous.* written, next.key renamed, next.pem not yet.
    copyFileSync(join(dir, 'token.key'), join(dir, 'previous.key'));
    copyFileSync(join(dir, 'token.pem'), join(dir, 'previous.pem'));
    renameSync(join(dir, 'next.key'), join(dir, 'token.key'));
    const run = await regauth(['keys', 'activate', '--dir', dir]);
    expect(run.code).toBe(0);
    expect(readFileSync(join(dir, 'token.pem'), 'utf8')).toBe(next);
    expect(readFileSync(join(dir, 'bundle.pem'), 'utf8')).toBe(next + first);
    expect(keyOf(dir, 'token.key', 'token.pem').alg).toBe('ES256');
  });

  test('--publish: bundle.pem and jwks.json (and nothing else) also go to the registry’s own directory', async () => {
    // A registry given the key directory can read the private key (registry:2 runs as root).
    const dir = join(tmp.dir, 'publish-keys');
    const trust = join(tmp.dir, 'publish-trust', 'sub');
    const same = () => {
      expect(readFileSync(join(trust, 'bundle.pem'), 'utf8')).toBe(
        readFileSync(join(dir, 'bundle.pem'), 'utf8'),
      );
      expect(readFileSync(join(trust, 'jwks.json'), 'utf8')).toBe(
        readFileSync(join(dir, 'jwks.json'), 'utf8'),
      );
      expect(readdirSync(trust).sort()).toEqual(['bundle.pem', 'jwks.json']);
      expect(statSync(join(trust, 'bundle.pem')).mode & 0o777).toBe(0o644);
    };
    const init = await regauth(['keys', 'init', '--dir', dir, '--publish', trust]);
    expect(init.code, init.stderr).toBe(0);
    same();
    // The paste block points the registry at the published files.
    expect(init.stdout).toContain(`rootcertbundle: ${join(trust, 'bundle.pem')}`);
    expect(init.stdout).toContain(`jwks: ${join(trust, 'jwks.json')}`);

    const rotate = await regauth(['keys', 'rotate', '--dir', dir, '--publish', trust]);
    expect(rotate.code, rotate.stderr).toBe(0);
    same();
    expect(readFileSync(join(trust, 'bundle.pem'), 'utf8').match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(rotate.stdout).toContain(join(trust, 'bundle.pem'));

    const activate = await regauth(['keys', 'activate', '--dir', dir, '--publish', trust]);
    expect(activate.code, activate.stderr).toBe(0);
    same();
    expect(activate.stdout).toContain(join(trust, 'bundle.pem'));
  });

  test('--publish that is the key directory, or cannot be written: exit 2 and nothing changed', async () => {
    const dir = join(tmp.dir, 'publish-bad');
    await regauth(['keys', 'init', '--dir', dir]);
    const before = readdirSync(dir).sort();
    const itself = await regauth(['keys', 'rotate', '--dir', dir, '--publish', `${dir}/`]);
    expect(itself.code).toBe(2);
    expect(itself.stderr).toContain('--publish');
    expect(itself.stderr).toContain('private key');
    const file = write('publish-file', 'x');
    const notDir = await regauth(['keys', 'rotate', '--dir', dir, '--publish', file]);
    expect(notDir.code).toBe(2);
    expect(notDir.stderr).toContain(file);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  test('rotate without a key: exit 2', async () => {
    const run = await regauth(['keys', 'rotate', '--dir', join(tmp.dir, 'nothing')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('create it with `regauth keys init`');
  });

  test('an unknown --alg is a usage error', async () => {
    expect((await regauth(['keys', 'init', '--dir', join(tmp.dir, 'x'), '--alg', 'HS256'])).code).toBe(2);
  });
});

describe('regauth doctor', () => {
  const registryConfig = (token: string) => write('registry.yml', `version: 0.1\nauth:\n  token:\n${token}`);

  test('a registry that trusts regauth: every check ok, exit 0', async () => {
    const file = registryConfig(
      `    realm: https://r.example.com/regauth/auth\n    service: registry.test\n    issuer: acme\n    rootcertbundle: keys/bundle.pem\n    jwks: keys/jwks.json\n`,
    );
    const run = await regauth(['doctor', '-c', configFile, '--registry-config', file]);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').map((l) => l.split(':')[0])).toEqual([
      'ok   issuer',
      'ok   service',
      'ok   rootcertbundle',
      'ok   rotation',
      'ok   realm',
      'ok   certificate',
      'ok   jwks',
      'the registry trusts regauth',
      '',
    ]);
  });

  test.each(['/regauth/auth/token', '/regauth/auth/token/', '/regauth/auth/'])(
    'the realm path %s is the token endpoint (checked as a path, not probed)',
    async (path) => {
      const file = registryConfig(
        `    realm: https://r.example.com${path}\n    service: registry.test\n    issuer: acme\n    rootcertbundle: keys/bundle.pem\n    jwks: keys/jwks.json\n`,
      );
      const run = await regauth(['doctor', '-c', configFile, '--registry-config', file]);
      expect(run.stdout).toContain(
        `ok   realm: the path of https://r.example.com${path} is regauth's token endpoint (not probed; \`doctor --probe\` asks it)`,
      );
      expect(run.code).toBe(0);
    },
  );

  test('rotation: doctor says which key regauth signs with and which keys the registry bundle holds', async () => {
    const dir = join(tmp.dir, 'doctor-rotation');
    await regauth(['keys', 'init', '--dir', dir]);
    const config = write(
      'doctor-rotation.yml',
      `token: {issuer: acme, key: ${dir}/token.key, certificate: ${dir}/token.pem}\nusers: {}\nacl: []\n`,
    );
    const oldBundle = write('doctor-old-bundle.pem', readFileSync(join(dir, 'bundle.pem'), 'utf8'));
    const kid = (key: string, cert: string) => keyOf(dir, key, cert).libtrustKid;
    const first = kid('token.key', 'token.pem');
    const stage = async (bundle: string) => {
      const file = registryConfig(
        `    realm: https://r.example.com/auth\n    service: registry.test\n    issuer: acme\n    rootcertbundle: ${bundle}\n`,
      );
      const run = await regauth(['doctor', '-c', config, '--registry-config', file]);
      return run.stdout
        .split('\n')
        .find((l) => l.startsWith('ok   rotation:') || l.startsWith('FAIL rotation:'));
    };
    expect(await stage(oldBundle)).toBe(
      `ok   rotation: no rotation pending; regauth signs with ${first}; the registry's bundle holds it`,
    );

    await regauth(['keys', 'rotate', '--dir', dir]);
    const next = kid('next.key', 'next.pem');
    expect(await stage(oldBundle)).toBe(
      `ok   rotation: rotation pending; regauth signs with ${first}; the registry's bundle holds it, not the next key ${next}: install ${dir}/bundle.pem on the registry and restart it, then run \`regauth keys activate --dir ${dir}\``,
    );
    expect(await stage(join(dir, 'bundle.pem'))).toBe(
      `ok   rotation: rotation pending; regauth signs with ${first}; the registry's bundle holds it and the next key ${next}: once the registry has been restarted with it, run \`regauth keys activate --dir ${dir}\``,
    );

    await regauth(['keys', 'activate', '--dir', dir]);
    expect(await stage(join(dir, 'bundle.pem'))).toBe(
      `ok   rotation: no rotation pending; regauth signs with ${next}; the registry's bundle holds it and the previous key ${first} (tokens it signed stay valid until they expire)`,
    );
    // A registry restarted with the old bundle after the switch: every token fails.
    const run = await regauth([
      'doctor',
      '-c',
      config,
      '--registry-config',
      registryConfig(
        `    realm: https://r.example.com/auth\n    service: registry.test\n    issuer: acme\n    rootcertbundle: ${oldBundle}\n`,
      ),
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('FAIL rootcertbundle');
  });

  test('every mismatch is a finding with its fix: exit 1', async () => {
    const other = await generateSigningMaterial({ alg: 'ES256', commonName: 'other', validDays: 10 });
    write('other.pem', other.certPem);
    write('other-jwks.json', '{"keys":[{"kid":"nope"}]}');
    const file = registryConfig(
      `    realm: https://r.example.com/token\n    service: elsewhere\n    issuer: someone\n    rootcertbundle: other.pem\n    jwks: other-jwks.json\n`,
    );
    const run = await regauth(['doctor', '-c', configFile, '--registry-config', file]);
    expect(run.code).toBe(1);
    const fails = run.stdout.split('\n').filter((l) => l.startsWith('FAIL'));
    // Not the jwks: these tokens carry x5c, which a registry v3 checks against the bundle instead.
    expect(fails.map((l) => l.split(':')[0])).toEqual([
      'FAIL issuer',
      'FAIL service',
      'FAIL rootcertbundle',
      'FAIL realm',
    ]);
    expect(run.stdout).toContain(
      'FAIL issuer: the registry expects issuer "someone", regauth signs "acme"\n     fix: ',
    );
    expect(run.stdout).toContain(
      "the realm path /token is not regauth's token endpoint (/regauth/auth or /regauth/auth/token)",
    );
    expect(run.stdout).toContain('4 problems found');
  });

  test('a certificate expiring within 30 days is a finding', async () => {
    const { keyPem, certPem } = await generateSigningMaterial({
      alg: 'ES256',
      commonName: 'short',
      validDays: 10,
    });
    write('short.key', keyPem);
    write('short.pem', certPem);
    const config = write('short.yml', `token: {issuer: acme, key: short.key, certificate: short.pem}\n`);
    copyFileSync(join(tmp.dir, 'short.pem'), join(tmp.dir, 'short-bundle.pem'));
    const file = registryConfig(
      `    realm: https://r/auth\n    service: s\n    issuer: acme\n    rootcertbundle: short-bundle.pem\n`,
    );
    const run = await regauth(['doctor', '-c', config, '--registry-config', file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAIL certificate: CN=short expires in (9|10) days/);
    expect(run.stdout).toContain('fix: rotate the key: `regauth keys rotate --dir DIR`');
  });

  test('no token.key: the development key in --data-dir is checked (the key `serve` signs with)', async () => {
    // `keys init` and `serve`'s development key use the same names: token.key, token.pem.
    const config = write('dev.yml', `server: {path_prefix: /regauth}\ntoken: {issuer: acme}\n`);
    const file = registryConfig(
      `    realm: https://r.example.com/regauth/auth\n    service: registry.test\n    issuer: acme\n    rootcertbundle: keys/token.pem\n`,
    );
    const run = await regauth(['doctor', '-c', config, '--registry-config', file, '--data-dir', keyDir]);
    expect(run.stdout).toContain(`${config}: no token.key; checking the development key in ${keyDir}\n`);
    expect(run.stdout).toContain(
      `ok   rootcertbundle: ${join(tmp.dir, 'keys/token.pem')} holds the signing certificate`,
    );
    expect(run.stdout).toContain('the registry trusts regauth');
    expect(run.code).toBe(0);
  });

  test('no token.key and no development key in --data-dir: one finding, exit 1, nothing created', async () => {
    const config = write('dev.yml', `token: {issuer: acme}\n`);
    const file = registryConfig(
      `    realm: https://r.example.com/auth\n    service: s\n    issuer: acme\n    rootcertbundle: keys/token.pem\n`,
    );
    const empty = join(tmp.dir, 'no-data');
    const run = await regauth(['doctor', '-c', config, '--registry-config', file, '--data-dir', empty]);
    expect(run).toEqual({
      code: 1,
      stdout:
        `FAIL signing key: no token.key and no development key in ${empty}\n` +
        `     fix: start regauth once (\`regauth serve -c ${config} --data-dir ${empty}\` creates it), or run \`regauth keys init --dir DIR\` and set token.key and token.certificate\n` +
        '1 problem found\n',
      stderr: '',
    });
    expect(existsSync(empty)).toBe(false);
  });

  test('--probe: a realm where nothing listens is a finding', async () => {
    // A port that was free a moment ago, and that nobody listens on now.
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as AddressInfo).port;
    await new Promise((done) => server.close(done));
    const file = registryConfig(
      `    realm: http://127.0.0.1:${port}/regauth/auth\n    service: registry.test\n    issuer: acme\n    rootcertbundle: keys/bundle.pem\n    jwks: keys/jwks.json\n`,
    );
    const run = await regauth(['doctor', '-c', configFile, '--registry-config', file, '--probe']);
    expect(run.stdout).toContain(
      `FAIL realm: nothing answers at http://127.0.0.1:${port}/regauth/auth (ECONNREFUSED)`,
    );
    expect(run.code).toBe(1);
  });

  test('--probe: regauth answering at the realm is ok', async () => {
    const { startTestServer } = await import('../helpers/server.js');
    const probed = await startTestServer({
      dir: join(tmp.dir),
      file: 'probe-config.yml',
      config: () =>
        'server: {path_prefix: /regauth}\ntoken: {issuer: acme, key: keys/token.key, certificate: keys/token.pem, services: [registry.test]}\nacl: []\n',
    });
    try {
      const file = registryConfig(
        `    realm: ${probed.url}/regauth/auth\n    service: registry.test\n    issuer: acme\n    rootcertbundle: keys/bundle.pem\n    jwks: keys/jwks.json\n`,
      );
      const run = await regauth(['doctor', '-c', configFile, '--registry-config', file, '--probe']);
      expect(run.stdout).toContain(
        `ok   realm: ${probed.url}/regauth/auth answered as regauth's token endpoint (401)`,
      );
      expect(run.code).toBe(0);
    } finally {
      await probed.server.close();
    }
  });

  test('doctor --help documents --data-dir', async () => {
    const run = await regauth(['doctor', '--help']);
    expect(run.stdout.replace(/\s+/g, ' ')).toContain(
      '--data-dir <dir> where `regauth serve --data-dir` keeps the development key; checked when the config names no token.key (default: "data")',
    );
  });

  test('a registry config without token auth: exit 2', async () => {
    const file = write('registry-htpasswd.yml', 'version: 0.1\nauth:\n  htpasswd: {realm: x, path: /x}\n');
    const run = await regauth(['doctor', '-c', configFile, '--registry-config', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('the registry does not use token authentication');
  });
});

test('hash and check --password-stdin read stdin with a bound, and say what went wrong', async () => {
  // Found by an adversarial review: `head -c 600M /dev/zero | regauth hash` read it all, then
  // printed "this is a bug in regauth" with a stack trace.
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const endless = Readable.from(
    (function* () {
      while (sent < 16 * 1024 * 1024) {
        sent += chunk.length;
        yield chunk;
      }
    })(),
  );
  const original = Object.getOwnPropertyDescriptor(process, 'stdin')!;
  Object.defineProperty(process, 'stdin', { value: endless, configurable: true });
  let err: unknown;
  try {
    await processIO.readStdin().catch((e: unknown) => (err = e));
  } finally {
    Object.defineProperty(process, 'stdin', original);
  }
  expect(sent).toBeLessThan(1024 * 1024);
  expect(err).toBeInstanceOf(UsageError);
  expect((err as Error).message).toBe('stdin holds more than 64 KiB: a password is far shorter');
});

// Found by a review: the labels were gathered in a plain object, so `--label constructor=x` found
// Object's constructor and crashed (`.push is not a function`), and `__proto__=x` vanished.
test('check --label takes any key, constructor and __proto__ included', async () => {
  const { parseLabelArgs } = await import('../../src/tools/check.js');
  const labels = parseLabelArgs(['constructor=x', '__proto__=y', 'toString=z', 'toString=w']);
  expect(Object.entries(labels)).toEqual([
    ['constructor', ['x']],
    ['__proto__', ['y']],
    ['toString', ['z', 'w']],
  ]);
  const config = write(
    'proto-labels.yml',
    `token: {issuer: x, key: keys/token.key, certificate: keys/token.pem}\nusers:\n  alice: {password: "${hash(randomPassword())}", labels: {team: [a]}}\nacl:\n  - match: {labels: {constructor: x}}\n    actions: [pull]\n`,
  );
  const run = await regauth([
    'check',
    '-c',
    config,
    '--account',
    'alice',
    '--label',
    'constructor=x',
    '--scope',
    'repository:a/b:pull',
  ]);
  expect(run.stdout).toContain('granted: pull');
});
