import { KeyObject, webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { parseDuration } from '../../src/core/duration.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { loadX509 } from '../../src/token/x509.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir();
let keyLines = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  keyLines = `  key: ${keyPath}\n  certificate: ${certPath}\n`;
});
afterAll(() => tmp.cleanup());

function load(yaml: string) {
  return loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });
}
function errorsOf(yaml: string): string[] {
  try {
    load(yaml);
  } catch (err) {
    if (err instanceof ConfigErrors)
      return err.errors.map((e) => (e.line ? `line ${e.line}: ${e.message}` : e.message));
    throw err;
  }
  throw new Error('config loaded without error');
}

describe('duration', () => {
  test.each([
    [900, 900],
    ['900', 900],
    ['15m', 900],
    ['1h30m', 5400],
    ['90d', 7776000],
    ['2w', 1209600],
    ['15 minutes', undefined],
    [-1, undefined],
    [1.5, undefined],
    ['', undefined],
    [1e23, undefined],
    [2 ** 53, undefined],
    ['99999999999999999999999', undefined],
  ])('%j → %j', (input, seconds) => {
    expect(parseDuration(input)).toBe(seconds);
  });
});

describe('loadConfigText', () => {
  test('a docker_auth config with server, token, users and acl loads unchanged', () => {
    const config = load(
      `server:\n  addr: ":5001"\ntoken:\n  issuer: "Acme auth server"\n  expiration: 900\n${keyLines}users:\n  admin:\n    password: "${hash('x')}"\n    labels: {group: [admins]}\n  "": {}\nacl:\n  - match: {account: "admin"}\n    actions: ["*"]\n    comment: "Admin has full access to everything."\n  - match: {account: "/.+/", name: "\${account}/*"}\n    actions: ["*"]\n`,
    );
    expect(config.token.issuer).toBe('Acme auth server');
    expect(config.token.expiration).toBe(900);
    expect(config.server.addr).toEqual({ host: undefined, port: 5001 });
    expect(config.users?.get('admin')?.labels).toEqual({ group: ['admins'] });
    expect(config.users?.get('')?.passwordHash).toBeUndefined();
    expect(config.token.key.alg).toBe('ES256');
  });

  test('server.certificate and server.key double as the token key', () => {
    const yaml = `server:\n${keyLines}token:\n  issuer: x\n`;
    const config = load(yaml);
    expect(config.server.tls).toBeDefined();
    expect(config.token.keyPath).toContain('token-ES256.key');
  });

  test('durations with units', () => {
    expect(load(`token:\n  issuer: x\n  expiration: "15m"\n${keyLines}`).token.expiration).toBe(900);
  });

  test.each([
    [
      'unknown key with its path, line and the allowed keys',
      `token:\n  issuer: x\n__KEY__acl:\n  - match: {account: a}\n    actions: [pull]\n  - match:\n      team: devs\n    actions: [pull]\n`,
      'acl[1].match.team: unknown key; expected one of account, type, name, service, ip, labels',
    ],
    [
      'top-level typo',
      `token:\n  issuer: x\n__KEY__userz: {}\n`,
      'userz: unknown key; expected one of server, token, users',
    ],
    ['missing issuer', `token:\n__KEY__`, 'token.issuer: required'],
    [
      'expiration too short',
      `token:\n  issuer: x\n  expiration: 30\n__KEY__`,
      'token.expiration: must be at least 60 seconds',
    ],
    [
      'bad duration',
      `token:\n  issuer: x\n  expiration: "ten"\n__KEY__`,
      'token.expiration: invalid duration "ten"; use seconds or e.g. "15m", "90d"',
    ],
    [
      'plain-text password',
      `token:\n  issuer: x\n__KEY__users:\n  bob:\n    password: secret\n`,
      'users.bob.password: must be a bcrypt hash ($2a$, $2b$ or $2y$); make one with `regauth hash` or `htpasswd -nB`',
    ],
    [
      'docker_auth section not implemented',
      `token:\n  issuer: x\n__KEY__github_auth: {}\n`,
      'github_auth: docker_auth section not supported by regauth; use oidc_auth',
    ],
    [
      'bad addr',
      `server:\n  addr: "5001"\ntoken:\n  issuer: x\n__KEY__`,
      'server.addr: invalid address "5001"; expected [host]:port, e.g. ":5001"',
    ],
    [
      'bad path_prefix',
      `server:\n  path_prefix: "regauth/"\ntoken:\n  issuer: x\n__KEY__`,
      'server.path_prefix: must be empty or a path like "/regauth" (leading slash, no trailing slash)',
    ],
    [
      'missing key file',
      `token:\n  issuer: x\n  key: nope.key\n  certificate: nope.pem\n`,
      'token.key: cannot read',
    ],
    [
      'missing key file: the error says how to create it',
      `token:\n  issuer: x\n  key: /nonexistent/keys/token.key\n  certificate: /nonexistent/keys/token.pem\n`,
      'token.key: cannot read /nonexistent/keys/token.key: ENOENT; create it with `regauth keys init --dir /nonexistent/keys` (it writes token.key and token.pem there)',
    ],
    ['not a mapping', `- a\n- b\n`, 'the config must be a YAML mapping'],
  ])('%s', (_what, yaml, message) => {
    const errors = errorsOf(yaml.replace('__KEY__', keyLines));
    expect(errors.join('\n')).toContain(message);
  });

  test.each([
    ['real_ip_header', 'X-Real-Ip', 'use server.trusted_proxies'],
    ['real_ip_pos', '-1', 'use server.trusted_proxies'],
    ['net', 'unix', 'it listens on TCP only: give server.addr as [host]:port'],
    ['hsts', 'true', 'terminate TLS at HAProxy and set Strict-Transport-Security there'],
    ['tls_min_version', 'TLS12', 'terminate TLS at HAProxy or use the defaults'],
    ['tls_curve_preferences', '[P256]', 'terminate TLS at HAProxy or use the defaults'],
    ['tls_cipher_suites', '[TLS_AES_128_GCM_SHA256]', 'terminate TLS at HAProxy or use the defaults'],
    ['letsencrypt', '{email: a@b.c}', 'terminate TLS in HAProxy or give server.certificate and server.key'],
  ])('docker_auth server.%s is refused by name, with its line and what to do instead', (key, value, hint) => {
    const errors = errorsOf(`server:\n  addr: ":5001"\n  ${key}: ${value}\ntoken:\n  issuer: x\n${keyLines}`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(`^line 3: server\\.${key}: docker_auth (key|section) not supported by regauth; `),
    );
    expect(errors[0]).toContain(hint);
    expect(errors[0]).not.toContain('unknown key');
  });

  test('the line of an unknown key is reported', () => {
    const errors = errorsOf(
      `token:\n  issuer: x\n${keyLines}acl:\n  - match:\n      team: devs\n    actions: [pull]\n`,
    );
    expect(errors).toEqual([
      `line 7: acl[0].match.team: unknown key; expected one of account, type, name, service, ip, labels`,
    ]);
  });

  test('YAML syntax errors carry the line', () => {
    expect(() => load('token:\n  issuer: [x\n')).toThrow(/line \d+: YAML syntax error/);
  });

  test('a key given twice is refused with its YAML path and both lines (docker_auth took the last)', () => {
    // As in docker_auth's own examples/ldap_auth.yml, which sets bind_dn twice.
    const errors = errorsOf(
      `token:\n  issuer: x\n${keyLines}ldap_auth:\n  addr: "ldap:389"\n  bind_dn: "cn=a"\n  base: ""\n  bind_dn: "cn=b"\n  filter: "(uid=\${account})"\n`,
    );
    const lines = `token:\n  issuer: x\n${keyLines}`.split('\n').length - 1;
    expect(errors).toEqual([
      `line ${lines + 5}: ldap_auth.bind_dn: given twice (lines ${lines + 3} and ${lines + 5}); keep one (docker_auth used the last)`,
    ]);
    expect(errorsOf('acl: []\nacl: []\n')).toEqual([
      'line 2: acl: given twice (lines 1 and 2); keep one (docker_auth used the last)',
    ]);
    // On one line (flow style), and beside an anchor that refers to itself.
    expect(errorsOf('token: {issuer: a, issuer: b}\n')).toEqual([
      'line 1: token.issuer: given twice (lines 1 and 1); keep one (docker_auth used the last)',
    ]);
    expect(
      errorsOf(
        'acl:\n  - match: {}\n    actions: [pull]\n    comment: &a\n      - *a\n  - match: {}\n    actions: [pull]\n    actions: [push]\n',
      ),
    ).toEqual(['line 8: acl[1].actions: given twice (lines 7 and 8); keep one (docker_auth used the last)']);
    // Inside a mapping that is aliased later (an alias reports the same mapping again, keyless).
    expect(
      errorsOf(
        'acl:\n  - &r\n    match: {}\n    actions: [pull]\n    comment: a\n    comment: b\n  - <<: *r\n',
      ),
    ).toEqual(['line 6: acl[0].comment: given twice (lines 5 and 6); keep one (docker_auth used the last)']);
  });

  // Found by the config review: YAML keeps `__proto__` as a key, and zod's record copied it by
  // assignment, which set the object's prototype instead: the key vanished without an error, so
  // `match: {labels: {__proto__: admins}}` matched every account, and such a user was gone.
  test('a key named __proto__ is refused with its YAML path and line', () => {
    const head = `token:\n  issuer: x\n${keyLines}`;
    const lines = head.split('\n').length - 1;
    expect(errorsOf(`${head}acl:\n  - match: {labels: {__proto__: admins}}\n    actions: ["*"]\n`)).toEqual([
      `line ${lines + 2}: acl[0].match.labels.__proto__: a key JavaScript reserves; it cannot be a name here`,
    ]);
    expect(errorsOf(`${head}users:\n  __proto__: {password: "${hash('pw')}"}\n`)).toEqual([
      `line ${lines + 2}: users.__proto__: a key JavaScript reserves; it cannot be a name here`,
    ]);
    // Through an alias and a merge key, too.
    expect(
      errorsOf(`${head}x: &l {__proto__: a}\nacl:\n  - match: {labels: {<<: *l}}\n    actions: []\n`),
    ).toContain(`line ${lines + 1}: x.__proto__: a key JavaScript reserves; it cannot be a name here`);
  });

  // Found by the config review: a Latin-1 "josé" loaded as the user "jos\uFFFD".
  test('a config that is not UTF-8 is refused with the line of the first bad byte', () => {
    const file = join(tmp.dir, 'latin1.yml');
    const head = `token:\n  issuer: x\n${keyLines}users:\n  "jos`;
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from(head),
        Buffer.from([0xe9]),
        Buffer.from(`": {password: "${hash('pw')}"}\n`),
      ]),
    );
    expect(() => loadConfigFile(file)).toThrow(
      `line ${head.split('\n').length}: not UTF-8 (byte 0xe9 at offset ${Buffer.byteLength(head)}); save the file as UTF-8`,
    );
  });

  // Found by the config review: aliases share nodes in the parsed file, but validation copies
  // every path through them, so 10 KB of aliases (400 users sharing 400 labels of 400 values)
  // took seconds and 640 MB, and a little more ran out of memory.
  test('a file that expands past a million values through its aliases is refused', () => {
    const bomb = (n: number) => {
      const values = `[${Array.from({ length: n }, (_, i) => `v${i}`).join(', ')}]`;
      const labels = Array.from({ length: n }, (_, i) => (i === 0 ? `l0: &V ${values}` : `l${i}: *V`));
      const users = Array.from({ length: n }, (_, i) =>
        i === 0 ? `  u0: &U {labels: {${labels.join(', ')}}}` : `  u${i}: *U`,
      );
      return `token:\n  issuer: x\n${keyLines}users:\n${users.join('\n')}\n`;
    };
    expect(errorsOf(bomb(400))).toEqual([
      'the file expands to more than 1000000 values through its aliases (*name); write the values out, or share fewer',
    ]);
    // 50 users sharing 50 labels of 50 values (125,000): loaded.
    expect(load(bomb(50)).users?.size).toBe(50);
  });

  test('a key inside an aliased mapping keeps its own line', () => {
    const errors = errorsOf(
      `token:\n  issuer: x\n${keyLines}users:\n  admin: &u\n    labels: {}\n    password: 5\n  root: *u\n`,
    );
    expect(errors[0]).toMatch(/^line 8: users\.admin\.password: must be a string/);
  });

  test('a value of the wrong kind gets one message, not one per check it fails', () => {
    expect(errorsOf(`token:\n  issuer: x\n${keyLines}users:\n  bob:\n    password: []\n`)).toEqual([
      'line 7: users.bob.password: must be a string',
    ]);
  });

  test('htpasswd: bcrypt accepted, other hash kinds refused with the line number', () => {
    const good = join(tmp.dir, 'good.htpasswd');
    writeFileSync(good, `# comment\nalice:${hash('a')}\n\nbob:${hash('b')}\n`);
    const config = load(`token:\n  issuer: x\n${keyLines}users_file: ${good}\n`);
    expect([...(config.users_file?.users.keys() ?? [])]).toEqual(['alice', 'bob']);

    const bad = join(tmp.dir, 'bad.htpasswd');
    writeFileSync(bad, `alice:${hash('a')}\ncarol:$apr1$abc$def\n`);
    expect(errorsOf(`token:\n  issuer: x\n${keyLines}users_file: ${bad}\n`).join()).toContain(
      'line 2: user "carol" has a MD5 ($apr1$) hash; only bcrypt is accepted',
    );
  });

  test('htpasswd: a line that is not UTF-8 (a Latin-1 name) is refused with its number', () => {
    const latin1 = join(tmp.dir, 'latin1.htpasswd');
    // "josé" and "josè" in Latin-1: decoded as UTF-8 both would be "jos\uFFFD", a name nobody
    // can log in as, and the second "appears twice".
    writeFileSync(
      latin1,
      Buffer.concat([
        Buffer.from(`alice:${hash('a')}\njos`),
        Buffer.from([0xe9]),
        Buffer.from(`:${hash('b')}\njos`),
        Buffer.from([0xe8]),
        Buffer.from(`:${hash('c')}\n`),
      ]),
    );
    const [error] = errorsOf(`token:\n  issuer: x\n${keyLines}users_file: ${latin1}\n`);
    expect(error).toContain('line 2: not UTF-8; save the file as UTF-8');
    expect(error).toContain('line 3: not UTF-8');
    expect(error).not.toContain('appears twice');
  });

  test('htpasswd: a file that is not one at all (a log) names its first ten bad lines, not all', () => {
    const log = join(tmp.dir, 'regauth.log');
    writeFileSync(log, Array.from({ length: 500 }, (_, i) => `{"level":30,"n":${i}}`).join('\n'));
    const [error] = errorsOf(`token:\n  issuer: x\n${keyLines}users_file: ${log}\n`);
    expect(error).toContain('line 10: ');
    expect(error).not.toContain('line 11: ');
    expect(error).toMatch(/more lines have problems \(the first 10 are shown\)$/);
  });

  test('several errors are reported together', () => {
    const errors = errorsOf(`server:\n  adr: x\ntoken:\n  issuer: x\n  expiraton: 5\n${keyLines}`);
    expect(errors).toHaveLength(2);
  });
});

test('a wrong-typed value is named as such, not as missing', () => {
  const errors = errorsOf(`token:\n  issuer: x\n  x5c: "yes"\n${keyLines}`);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain('token.x5c: ');
  expect(errors[0]).not.toContain('required');
});

describe('user names and issuers that would silently change meaning', () => {
  test.each([
    ['~', '~'],
    ['null', 'null'],
  ])('users: { %s: {} } is refused with its YAML path (not a user named %j)', (key, shown) => {
    const errors = errorsOf(`token:\n  issuer: x\n${keyLines}users:\n  ${key}: {}\n  bob: {}\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^line \d+: users\[?/);
    expect(errors[0]).toContain(`user name ${shown} is no value to YAML`);
  });

  test.each([
    ['bob:', 'bob'],
    ['bob: ~', 'bob'],
    ['bob: null', 'bob'],
    ['"":', '""'],
  ])(
    'users: { %s } (no value) is refused with its YAML path, not a user that takes any password',
    (entry, name) => {
      // docker_auth (Go yaml.v2) reads it as no user at all; `{}` is a user without a password.
      const errors = errorsOf(`token:\n  issuer: x\n${keyLines}users:\n  ${entry}\n  carol: {}\n`);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^line \d+: users/);
      expect(errors[0]).toContain(`${name}: {}`);
    },
  );

  test('an error under a key written with brackets (users[""], labels["a.b"]) names that key\'s line', () => {
    const head = `token:\n  issuer: x\n${keyLines}users:\n  carol: {}\n`;
    const at = head.split('\n').length;
    expect(errorsOf(`${head}  "":\n`)).toEqual([
      expect.stringMatching(new RegExp(`^line ${at}: users\\[""\\]: has no value`)),
    ]);
    expect(errorsOf(`${head}  "a.b": {password: nope}\n`)).toEqual([
      expect.stringMatching(new RegExp(`^line ${at}: users\\["a\\.b"\\]\\.password: must be a bcrypt hash`)),
    ]);
  });

  test.each([
    ['users: {bob: ""}', 'users.bob: must be a mapping (key: value)'],
    ['users: {bob: []}', 'users.bob: must be a mapping (key: value)'],
    ['users:', 'users: must be a mapping (key: value)'],
    ['acl: {}', 'acl: must be a list'],
  ])("%s: a plain message for a value of the wrong kind, not zod's", (line, message) => {
    expect(errorsOf(`token:\n  issuer: x\n${keyLines}${line}\n`)).toEqual([`line 5: ${message}`]);
  });

  test('quoted names that look like other types are user names', () => {
    const config = load(`token:\n  issuer: x\n${keyLines}users:\n  "null": {}\n  '123': {}\n  "": {}\n`);
    expect([...config.users!.keys()].sort()).toEqual(['', '123', 'null']);
  });

  test('two jwt_auth.issuers with the same issuer are refused with the YAML path of the second', () => {
    const errors = errorsOf(
      `token:\n  issuer: x\n${keyLines}jwt_auth:\n  issuers:\n    - issuer: https://ci.example.com\n      audience: registry\n      required_claims: {repository: acme/app}\n    - issuer: https://ci.example.com\n      audience: registry\n`,
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('jwt_auth.issuers[1].issuer: ');
    expect(errors[0]).toContain('jwt_auth.issuers[0]');
  });
});

describe('server connection limits', () => {
  test('defaults that cut slow clients off within seconds', () => {
    const config = load(`token:\n  issuer: x\n${keyLines}`);
    expect(config.server.maxConnections).toBe(512);
    expect(config.server.headersTimeoutMs).toBe(5000);
    expect(config.server.requestTimeoutMs).toBe(10_000);
  });

  test('set in seconds or with units', () => {
    const config = load(
      `server:\n  max_connections: 2000\n  headers_timeout: 3\n  request_timeout: 1m\ntoken:\n  issuer: x\n${keyLines}`,
    );
    expect(config.server.maxConnections).toBe(2000);
    expect(config.server.headersTimeoutMs).toBe(3000);
    expect(config.server.requestTimeoutMs).toBe(60_000);
  });

  test.each([
    ['max_connections: 0', /line 2: server\.max_connections: must be a positive integer/],
    ['headers_timeout: 0', /line 2: server\.headers_timeout: must be a duration between 1 second/],
    ['request_timeout: 1h', /line 2: server\.request_timeout: must be a duration between 1 second/],
    ['headers_timeout: 20', /line 2: server\.headers_timeout: must not exceed server\.request_timeout/],
  ])('%s is refused with its YAML path', (line, message) => {
    expect(errorsOf(`server:\n  ${line}\ntoken:\n  issuer: x\n${keyLines}`).join('\n')).toMatch(message);
  });
});

describe("a value of the wrong kind: one plain message, never zod's", () => {
  test.each([
    [
      'credential_cache: {ttl: true}',
      'credential_cache.ttl: must be a number of seconds or a duration such as "15m"',
    ],
    [
      'login_queue: {retry_after: [1]}',
      'login_queue.retry_after: must be a number of seconds or a duration such as "15m"',
    ],
    ['lockout: {backoff: .inf}', 'lockout.backoff: must be a number of seconds or a duration such as "15m"'],
    ['lockout: {max_failures: 2.5}', 'lockout.max_failures: must be an integer'],
    ['lockout: {max_failures: .inf}', 'lockout.max_failures: must be an integer'],
    ['lockout: {account_max_failures: "5"}', 'lockout.account_max_failures: must be an integer'],
    ['login_queue: {max_pending: -1e308}', 'login_queue.max_pending: must be at least 1'],
    ['login_queue: {per_client: 1.5}', 'login_queue.per_client: must be an integer'],
    // docker_auth's YAML 1.1 read yes/no/on/off as booleans; YAML 1.2 reads them as strings.
    [
      'lockout: {enabled: no}',
      'lockout.enabled: must be true or false ("no" is a string in YAML 1.2: write false)',
    ],
    [
      'lockout: {enabled: "On"}',
      'lockout.enabled: must be true or false ("On" is a string in YAML 1.2: write true)',
    ],
    ['lockout: {enabled: 1}', 'lockout.enabled: must be true or false'],
    [
      'users: {alice: {labels: {group: [{a: 1}]}}}',
      'users.alice.labels.group: must be a string or a list of strings',
    ],
    [
      'jwt_auth: {issuers: [{issuer: "https://ci.test", audience: 5, label_claims: groups, required_claims: {x: {a: 1}}}]}',
      'jwt_auth.issuers[0].audience: must be a string or a list of strings',
      'jwt_auth.issuers[0].label_claims: must be a list of claim names, or a mapping of label name to claim name',
      'jwt_auth.issuers[0].required_claims.x: must be a string or a list of strings',
    ],
  ])('%s', (line, ...messages) => {
    expect(errorsOf(`token:\n  issuer: x\n${keyLines}${line}\n`)).toEqual(
      messages.map((m) => `line 5: ${m}`),
    );
  });
});

describe('lockout delays', () => {
  test('a longest delay shorter than the first is refused, naming both', () => {
    expect(
      errorsOf(`token:\n  issuer: x\n${keyLines}lockout:\n  backoff: 600\n  max_backoff: 300\n`),
    ).toEqual([
      'line 7: lockout.max_backoff: must be at least lockout.backoff (600 s); the first delay would be cut to 300 s',
    ]);
    expect(
      load(`token:\n  issuer: x\n${keyLines}lockout:\n  backoff: 300\n  max_backoff: 300\n`).lockout,
    ).toMatchObject({
      backoff: 300,
      max_backoff: 300,
    });
  });

  test('a first delay longer than the default longest one raises the longest to it, unless it is given', () => {
    expect(load(`token:\n  issuer: x\n${keyLines}lockout:\n  backoff: 600\n`).lockout).toMatchObject({
      backoff: 600,
      max_backoff: 600,
    });
    expect(load(`token:\n  issuer: x\n${keyLines}lockout:\n  backoff: 2\n`).lockout).toMatchObject({
      backoff: 2,
      max_backoff: 300,
    });
  });
});

describe('sizes of in-memory tables, allocated in full at start', () => {
  test.each([
    ['lockout', '1e15'],
    ['lockout', '1e20'],
    ['lockout', '10000001'],
    ['credential_cache', '1e15'],
    ['credential_cache', '10000001'],
  ])('%s.max_entries: %s is refused with its YAML path', (section, value) => {
    expect(errorsOf(`${section}:\n  max_entries: ${value}\ntoken:\n  issuer: x\n${keyLines}`)).toEqual([
      `line 2: ${section}.max_entries: must be at most 10000000`,
    ]);
  });

  test('10000000 is the largest accepted', () => {
    const config = load(
      `lockout:\n  max_entries: 10000000\ncredential_cache:\n  max_entries: 10000000\ntoken:\n  issuer: x\n${keyLines}`,
    );
    expect(config.lockout.max_entries).toBe(10_000_000);
    expect(config.credential_cache.max_entries).toBe(10_000_000);
  });
});

describe('durations past what times in milliseconds can hold', () => {
  test.each([
    ['token:\n  issuer: x\n  expiration: 99999999999999999999999\n', 'line 3: token.expiration: '],
    [
      'token:\n  issuer: x\n  expiration: 3153600001\n',
      'line 3: token.expiration: must be at most 100 years',
    ],
    [
      'token:\n  issuer: x\n  refresh:\n    expiration: 1e20\n',
      'line 4: token.refresh.expiration: must be at most 100 years',
    ],
    [
      'lockout:\n  forget_after: 9007199254740991\ntoken:\n  issuer: x\n',
      'lockout.forget_after: must be at most 100 years',
    ],
  ])('%j is refused with its YAML path', (yaml, message) => {
    const errors = errorsOf(`${yaml}${keyLines}`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(message);
  });

  test('100 years is the longest accepted', () => {
    expect(load(`token:\n  issuer: x\n  expiration: 3153600000\n${keyLines}`).token.expiration).toBe(
      3_153_600_000,
    );
  });
});

describe('bcrypt hashes with a cost bcrypt refuses (outside 4 to 31)', () => {
  test.each(['99', '00', '03', '32'])('users: cost %s is refused with its path, without the hash', (cost) => {
    const bad = hash('x').replace(/^\$2y\$04\$/, `$2y$${cost}$`);
    const errors = errorsOf(`token:\n  issuer: x\n${keyLines}users:\n  c99:\n    password: "${bad}"\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`users.c99.password: bcrypt cost ${cost} is outside 4 to 31`);
    expect(errors[0]).not.toContain(bad.slice(7));
  });

  test('users_file: cost 99 is refused with the file and line, without the hash', () => {
    const bad = hash('x').replace(/^\$2y\$04\$/, '$2y$99$');
    const file = join(tmp.dir, 'cost.htpasswd');
    writeFileSync(file, `alice:${hash('a')}\nc99:${bad}\n`);
    const errors = errorsOf(`token:\n  issuer: x\n${keyLines}users_file: ${file}\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`users_file: ${file}: line 2: user "c99": bcrypt cost 99 is outside 4 to 31`);
    expect(errors[0]).not.toContain(bad.slice(7));
  });

  test('costs 4 and 31 are accepted', () => {
    const users = `users:\n  a:\n    password: "${hash('a')}"\n  b:\n    password: "${hash('b').replace(/^\$2y\$04\$/, '$2y$31$')}"\n`;
    expect([...load(`token:\n  issuer: x\n${keyLines}${users}`).users!.keys()]).toEqual(['a', 'b']);
  });
});

describe('server TLS files', () => {
  test('a pair node cannot serve TLS with (a 512-bit RSA key) is refused at load', async () => {
    const x509 = await loadX509();
    const keys = (await webcrypto.subtle.generateKey(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 512,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      true,
      ['sign', 'verify'],
    )) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: '01',
        name: 'CN=weak',
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86_400_000),
        signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5' },
        keys,
      },
      webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
    );
    const certFile = join(tmp.dir, 'weak.pem');
    const keyFile = join(tmp.dir, 'weak.key');
    writeFileSync(certFile, cert.toString('pem'));
    writeFileSync(
      keyFile,
      KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    );
    const errors = errorsOf(
      `server:\n  addr: "127.0.0.1:5997"\n  certificate: ${certFile}\n  key: ${keyFile}\ntoken:\n  issuer: x\n${keyLines}`,
    );
    expect(errors).toEqual([
      expect.stringMatching(
        /^line 3: server\.certificate: .*weak\.pem and server\.key .*weak\.key cannot serve TLS: .*key too small/,
      ),
    ]);
  });

  test('files that are not PEM are refused at load, naming server.key and server.certificate', () => {
    const notPem = join(tmp.dir, 'notakey.txt');
    writeFileSync(notPem, 'this is not a key\n');
    const errors = errorsOf(
      `server:\n  addr: "127.0.0.1:5997"\n  certificate: ${notPem}\n  key: ${notPem}\ntoken:\n  issuer: x\n${keyLines}`,
    );
    expect(errors).toEqual([
      `line 3: server.certificate: ${notPem}: not a PEM certificate`,
      `line 4: server.key: ${notPem}: not a PEM private key (unencrypted PKCS#8, SEC1 or PKCS#1)`,
    ]);
  });

  test('when they double as the token key, the signing key check alone reports them', () => {
    const notPem = join(tmp.dir, 'notakey.txt');
    writeFileSync(notPem, 'this is not a key\n');
    const errors = errorsOf(`server:\n  certificate: ${notPem}\n  key: ${notPem}\ntoken:\n  issuer: x\n`);
    expect(errors).toEqual([`line 3: server.key: ${notPem}: no PEM private key found`]);
  });

  test('a certificate that is not for the key is refused at load, naming server.certificate', async () => {
    const dir = join(tmp.dir, 'tls-mismatch');
    mkdirSync(dir);
    const rsa = await writeSigningKey(dir, 'RS256');
    const ec = await writeSigningKey(dir, 'ES256');
    const tls = (cert: string, key: string) =>
      `server:\n  certificate: ${cert}\n  key: ${key}\ntoken:\n  issuer: x\n${keyLines}`;
    expect(errorsOf(tls(rsa.certPath, ec.keyPath))).toEqual([
      `line 2: server.certificate: ${rsa.certPath} does not match server.key ${ec.keyPath}: the first certificate's public key is not the key's public key`,
    ]);
    expect(load(tls(ec.certPath, ec.keyPath)).server.tls?.certificatePath).toBe(ec.certPath);
  });
});
