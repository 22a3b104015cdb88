import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigFile, type Config } from '../../src/config/load.js';
import { replayAudit, type ReplayChange, type ReplayReport } from '../../src/tools/replay.js';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';
import { regauth } from '../helpers/cli.js';

const tmp = tempDir('regauth-replay-');
afterAll(() => tmp.cleanup());

const passwords = { alice: randomPassword(), bob: randomPassword(), carol: randomPassword() };

/** The ACL the server ran with, and the change under review. */
const OLD_ACL = `acl:
  - match: {account: "/.+/", name: "\${account}/**"}
    actions: ["*"]
    comment: own namespace
  - match: {labels: {group: devs}, name: "team/**"}
    actions: [pull, push]
    comment: devs push team
  - match: {labels: {group: ops}, name: "prod/**"}
    actions: [pull, push]
    comment: ops push prod
  - match: {account: "", name: "public/**"}
    actions: [pull]
    comment: anonymous pull public
`;
// devs lose push on team/** (pull only); carol, with no group, may now pull prod/**; the rest
// is reordered and recommented without changing any decision.
const NEW_ACL = `acl:
  - match: {account: "", name: "public/**"}
    actions: [pull]
    comment: anonymous pull public
  - match: {account: "/.+/", name: "\${account}/**"}
    actions: ["*"]
    comment: own namespace (reworded)
  - match: {labels: {group: devs}, name: "team/**"}
    actions: [pull]
    comment: devs pull team
  - match: {labels: {group: ops}, name: "prod/**"}
    actions: [pull, push]
  - match: {account: carol, name: "prod/**"}
    actions: [pull]
    comment: carol reads prod
`;

const users = `users:
  "": {}
  alice: {password: "${hash(passwords.alice)}", labels: {group: [devs]}}
  bob: {password: "${hash(passwords.bob)}", labels: {group: [ops]}}
  carol: {password: "${hash(passwords.carol)}"}
`;

let keys: { keyPath: string; certPath: string };
let oldFile = '';
let newFile = '';
let auditFile = '';
let auditLines: string[] = [];
let oldConfig: Config;
let newConfig: Config;

const head = (k: { keyPath: string; certPath: string }) =>
  `token: {issuer: acme, key: ${k.keyPath}, certificate: ${k.certPath}, services: [registry.test]}\n`;

beforeAll(async () => {
  keys = await writeSigningKey(tmp.dir);
  // A real server, with the old config, answering token requests as the registry's clients make them.
  const started = await startTestServer({
    dir: tmp.dir,
    file: 'old.yml',
    config: (k) => `${head(k)}${users}${OLD_ACL}`,
  });
  oldFile = join(tmp.dir, 'old.yml');
  const token = async (user: keyof typeof passwords | '', scopes: string[], password?: string) => {
    const query = new URLSearchParams([
      ['service', 'registry.test'],
      ...scopes.map((s): [string, string] => ['scope', s]),
    ]);
    const headers: Record<string, string> =
      user === '' ? {} : { authorization: basic(user, password ?? passwords[user]) };
    const res = await fetch(`${started.url}/auth?${query.toString()}`, { headers });
    await res.arrayBuffer();
    return res.status;
  };
  try {
    // A push is pull,push on the target; pulls are pull. Several of each, several users.
    for (let i = 0; i < 3; i++) {
      expect(await token('alice', ['repository:team/app:pull,push'])).toBe(200);
      expect(await token('alice', ['repository:alice/tool:pull,push'])).toBe(200);
    }
    expect(await token('alice', ['repository:team/lib:pull'])).toBe(200);
    expect(await token('alice', ['repository:prod/api:pull'])).toBe(200);
    expect(await token('bob', ['repository:prod/api:pull,push', 'repository:team/app:pull'])).toBe(200);
    expect(await token('bob', ['repository:prod/api:pull'])).toBe(200);
    expect(await token('carol', ['repository:prod/api:pull'])).toBe(200);
    expect(await token('carol', ['repository:prod/api:pull'])).toBe(200);
    expect(await token('carol', ['repository:carol/x:pull,push'])).toBe(200);
    expect(await token('', ['repository:public/base:pull'])).toBe(200);
    expect(await token('', ['repository:team/app:pull'])).toBe(200);
    // A failed login has no decisions: nothing to replay.
    expect(await token('bob', ['repository:prod/api:pull'], 'wrong')).toBe(401);
  } finally {
    await started.server.close(100);
  }
  auditLines = started.logs
    .join('')
    .split('\n')
    .filter((l) => l !== '');
  auditFile = join(tmp.dir, 'audit.log');
  writeFileSync(auditFile, `${auditLines.join('\n')}\n`);
  newFile = join(tmp.dir, 'new.yml');
  writeFileSync(newFile, `${head(keys)}${users}${NEW_ACL}`);
  oldConfig = loadConfigFile(oldFile);
  newConfig = loadConfigFile(newFile);
});

/** The changes as [account, scope, before, after, requests]. */
const changed = (r: ReplayReport) =>
  r.changes
    .map((c: ReplayChange) => [
      c.account,
      c.scope,
      c.before.granted.join(','),
      c.after.granted.join(','),
      c.count,
    ])
    .sort((a, b) => `${a[0]}${a[1]}`.localeCompare(`${b[0]}${b[1]}`));

const EXPECTED = [
  ['alice', 'repository:team/app:pull,push', 'pull,push', 'pull', 3],
  ['carol', 'repository:prod/api:pull', '', 'pull', 2],
];

describe('regauth replay against an audit log recorded from a running server', () => {
  test('the log holds the token requests (sanity)', () => {
    const tokens = auditLines.filter((l) => l.includes('"requestId"'));
    expect(tokens).toHaveLength(16);
  });

  test('reports exactly the changed decisions, against the recorded ones', async () => {
    const report = await replayAudit([{ name: auditFile }], { config: newConfig });
    expect(report.comparedWith).toBe('recorded decisions');
    expect(changed(report)).toEqual(EXPECTED);
    expect(report.requests).toBe(15);
    expect(report.malformed).toBe(0);
    expect(report.undetermined).toEqual([]);
    const alice = report.changes.find((c) => c.account === 'alice')!;
    expect(alice.lost).toEqual(['push']);
    expect(alice.gained).toEqual([]);
    expect(alice.before.rule).toEqual({ index: 1, path: 'acl[1]', comment: 'devs push team' });
    expect(alice.after.rule).toEqual({ index: 2, path: 'acl[2]', comment: 'devs pull team' });
    expect(alice.service).toBe('registry.test');
    expect(alice.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(alice.lastSeen).toMatch(/^\d{4}-\d\d-\d\dT/);
    const carol = report.changes.find((c) => c.account === 'carol')!;
    expect(carol.gained).toEqual(['pull']);
    expect(carol.before.by).toBe('deny');
    expect(report.byRule.map((g) => [g.rule?.path, g.decisions, g.requests, g.lost, g.gained])).toEqual([
      ['acl[2]', 1, 3, 1, 0],
      ['acl[4]', 1, 2, 0, 1],
    ]);
    expect(report.byAccount.map((g) => [g.account, g.requests])).toEqual([
      ['alice', 3],
      ['carol', 2],
    ]);
  });

  test('--against the old config: the same changes; the old config against itself: none', async () => {
    const against = await replayAudit([{ name: auditFile }], { config: newConfig, against: oldConfig });
    expect(against.comparedWith).toBe('config');
    expect(changed(against)).toEqual(EXPECTED);
    const same = await replayAudit([{ name: auditFile }], { config: oldConfig });
    expect(same.changes).toEqual([]);
    expect(same.distinct).toBeGreaterThan(5);
  });

  test('gzip, stdin and malformed lines: counted with their line numbers, never fatal', async () => {
    const broken = [
      ...auditLines.slice(0, 2),
      'not json at all',
      '{"requestId":"x","decisions":"nope","account":"a","authenticator":"users"}',
      '[1,2]',
      ...auditLines.slice(2),
      '{"truncated": ',
    ];
    const gz = join(tmp.dir, 'audit.log.gz');
    writeFileSync(gz, gzipSync(`${broken.join('\r\n')}\r\n`));
    const report = await replayAudit(
      [
        { name: gz },
        {
          name: '(stdin)',
          open: async function* () {
            yield 'garbage\n';
          },
        },
      ],
      { config: newConfig },
    );
    expect(changed(report)).toEqual(EXPECTED);
    expect(report.malformed).toBe(5);
    expect(report.malformedLines).toEqual([
      { file: gz, line: 3, reason: 'not JSON' },
      { file: gz, line: 4, reason: 'decisions is not a list' },
      { file: gz, line: 5, reason: 'not a JSON object' },
      { file: gz, line: broken.length, reason: 'not JSON' },
      { file: '(stdin)', line: 1, reason: 'not JSON' },
    ]);
  });

  test('a line like a valid one but for an invalid time, requestId or ms value is malformed', async () => {
    const valid = auditLines.find((l) => l.includes('"decisions"'))!;
    expect(valid).toMatch(/"ms":\d/);
    const variants = [
      valid,
      valid.replace(/"ms":[^,}]+/, '"ms":01'),
      valid.replace(/"time":"/, '"time":"\t'),
      valid.replace(/"requestId":"/, '"requestId":"\u0001'),
      valid.replace(/"ms":[^,}]+/, '"ms":1.5e3'),
    ];
    const report = await replayAudit(
      [
        {
          name: 'v',
          open: async function* () {
            yield variants.join('\n');
          },
        },
      ],
      { config: oldConfig },
    );
    expect(report.requests).toBe(2);
    expect(report.malformedLines.map((m) => [m.line, m.reason])).toEqual([
      [2, 'not JSON'],
      [3, 'not JSON'],
      [4, 'not JSON'],
    ]);
  });

  test('a corrupt gzip stream is reported, and what was read still counts', async () => {
    const whole = gzipSync(`${auditLines.join('\n')}\n`);
    const cut = join(tmp.dir, 'cut.log.gz');
    writeFileSync(cut, whole.subarray(0, whole.length - 12));
    const report = await replayAudit([{ name: cut }], { config: newConfig });
    expect(report.malformed).toBe(1);
    expect(report.malformedLines[0]!.reason).toMatch(/^unreadable: /);
  });

  test('the audit line changed by a later version: an "app" key, and outcome denied_all', async () => {
    const rewritten = auditLines.map((l) =>
      l
        .replace('"service":"regauth",', '"app":"regauth",')
        .replace('"outcome":"granted"', '"outcome":"denied_all"'),
    );
    expect(rewritten.join('\n')).not.toContain('"service":"regauth"');
    const file = join(tmp.dir, 'later.log');
    writeFileSync(file, rewritten.join('\n'));
    const report = await replayAudit([{ name: file }], { config: newConfig });
    expect(changed(report)).toEqual(EXPECTED);
  });
});

describe('labels not in the audit line', () => {
  // The lines are ldap_auth's: the new config keeps that backend (an account whose backend is
  // gone is no longer logged in: tools-replay-backend-removed.test.ts).
  let withLdap: Config;
  beforeAll(() => {
    writeFileSync(join(tmp.dir, 'ldap-bind-pw'), 'x');
    const file = join(tmp.dir, 'new-ldap.yml');
    writeFileSync(
      file,
      `${head(keys)}${users}ldap_auth: {addr: "ldap.example.org:389", bind_dn: "cn=svc,dc=example,dc=org", bind_password_file: ldap-bind-pw, base: "dc=example,dc=org", filter: "(uid=\${account})"}\n${NEW_ACL}`,
    );
    withLdap = loadConfigFile(file);
  });
  const line = (fields: Record<string, unknown>) =>
    JSON.stringify({
      level: 30,
      time: '2026-12-03T10:00:00.000Z',
      requestId: 'r1',
      method: 'GET',
      client: { ip: '10.0.0.1', via: null },
      outcome: 'granted',
      status: 200,
      grant: 'password',
      service: 'registry.test',
      account: 'dave',
      requested: ['repository:team/app:pull,push'],
      authenticator: 'ldap_auth',
      granted: ['repository:team/app:pull,push'],
      decisions: [{ scope: 'repository:team/app:pull,push', granted: ['pull', 'push'], rule: 1 }],
      ms: 1,
      ...fields,
    });

  test('a rule on labels would decide: not re-decided, and said so', async () => {
    const report = await replayAudit(
      [
        {
          name: 'x',
          open: async function* () {
            yield `${line({})}\n`;
          },
        },
      ],
      {
        config: withLdap,
      },
    );
    expect(report.changes).toEqual([]);
    expect(report.undetermined).toHaveLength(1);
    expect(report.undetermined[0]!.reason).toBe(
      'labels of ldap_auth accounts are not in the audit line, and acl[2] matches on labels.group',
    );
  });

  test('no rule on labels comes first: decided without them', async () => {
    const own = line({
      account: 'dave',
      decisions: [{ scope: 'repository:dave/app:pull', granted: [], rule: null }],
    });
    const report = await replayAudit(
      [
        {
          name: 'x',
          open: async function* () {
            yield own;
          },
        },
      ],
      {
        config: withLdap,
      },
    );
    expect(report.undetermined).toEqual([]);
    expect(changed(report)).toEqual([['dave', 'repository:dave/app:pull', '', 'pull', 1]]);
  });

  test("a denial recorded as ext_authz's is ext_authz's, not a default deny", async () => {
    const own = line({
      account: 'dave',
      decisions: [{ scope: 'repository:dave/app:pull', granted: [], rule: null, authorizer: 'ext_authz' }],
    });
    const report = await replayAudit(
      [
        {
          name: 'x',
          open: async function* () {
            yield own;
          },
        },
      ],
      { config: withLdap },
    );
    expect(report.changes.map((c) => c.before)).toEqual([{ granted: [], rule: null, by: 'ext_authz' }]);
  });

  test('labels recorded in the line are used', async () => {
    const withLabels = line({ labels: { group: ['devs'] } });
    const report = await replayAudit(
      [
        {
          name: 'x',
          open: async function* () {
            yield withLabels;
          },
        },
      ],
      {
        config: withLdap,
      },
    );
    expect(report.undetermined).toEqual([]);
    expect(changed(report)).toEqual([['dave', 'repository:team/app:pull,push', 'pull,push', 'pull', 1]]);
  });
});

describe('regauth replay on the command line', () => {
  test('exit 1 with the changes, exit 0 when nothing changes, --json, stdin', async () => {
    const changes = await regauth(['replay', '--audit', auditFile, '-c', newFile]);
    expect(changes.code).toBe(1);
    expect(changes.stdout).toContain('2 decisions change (5 requests): 1 lose access, 1 gain access');
    expect(changes.stdout).toMatch(
      /lose access \(granted before, not now\):\n {2}alice repository:team\/app:pull,push \(service registry\.test, from [^)]+\): pull,push -> pull; acl\[1\] "devs push team" -> acl\[2\] "devs pull team"; 3 requests, last /,
    );
    expect(changes.stdout).toContain('by account:\n  alice: 1 decision, 3 requests (1 lose, 0 gain)');
    const none = await regauth(['replay', '--audit', auditFile, '-c', oldFile, '--against', oldFile]);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('no decision changes');
    const json = await regauth(['replay', '--audit', '-', '-c', newFile, '--json'], auditLines.join('\n'));
    expect(json.code).toBe(1);
    expect(changed(JSON.parse(json.stdout) as ReplayReport)).toEqual(EXPECTED);
    const missing = await regauth(['replay', '--audit', join(tmp.dir, 'nope.log'), '-c', newFile]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
    // A file that exists and cannot be read (a directory here; EACCES takes the same path) is no
    // "malformed line": `replay … && deploy` must not pass having replayed nothing.
    const dir = join(tmp.dir, 'audit-dir');
    mkdirSync(dir, { recursive: true });
    const unreadable = await regauth(['replay', '--audit', dir, '-c', newFile]);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain(`${dir}: cannot be read`);
    expect(unreadable.stdout).toBe('');
  });

  test('no secret from the log reaches the report', async () => {
    const out = await regauth(['replay', '--audit', auditFile, '-c', newFile, '--json']);
    for (const p of Object.values(passwords)) expect(out.stdout).not.toContain(p);
    expect(out.stdout).not.toMatch(/\$2[aby]\$/);
  });
});

describe('a large log', () => {
  test('100,000 lines replay quickly, with memory bounded by distinct decisions', async () => {
    // Lines shaped like the recorded ones, over 1,000 accounts and 20 repositories.
    const template = JSON.parse(auditLines.find((l) => l.includes('"decisions"'))!) as Record<
      string,
      unknown
    >;
    async function* generate() {
      let batch = '';
      for (let i = 0; i < 100_000; i++) {
        const account = `user${i % 1000}`;
        const scope = `repository:team/app${Math.floor(i / 1000) % 20}:pull`;
        batch += `${JSON.stringify({
          ...template,
          account,
          authenticator: 'users',
          decisions: [{ scope, granted: [], rule: null }],
        })}\n`;
        if (batch.length > 64 * 1024) {
          yield batch;
          batch = '';
        }
      }
      yield batch;
    }
    const started = performance.now();
    const report = await replayAudit([{ name: 'generated', open: generate }], {
      config: newConfig,
      maxDistinct: 15_000,
    });
    const seconds = (performance.now() - started) / 1000;
    expect(report.requests).toBe(100_000);
    // 1,000 accounts × 20 repositories (20,000 pairs, each 5 times), but the limit keeps 15,000:
    // the lines of the other 5,000 pairs are counted, not kept.
    expect(report.distinct).toBe(15_000);
    expect(report.overLimit).toBe(25_000);
    // Unknown static accounts with no other backend: not authenticated, nothing granted, as recorded.
    expect(report.changes).toEqual([]);
    // Generous: the machine is shared; about 1 s unloaded.
    expect(seconds).toBeLessThan(30);
  }, 60_000);
});

test('replay: a new token.services that refuses the recorded service is a change (the server answers 400)', async () => {
  // Found by an adversarial review: replay decided by the ACL alone and reported nothing.
  const { keyPath, certPath } = await writeSigningKey(tmp.dir, 'ES256');
  const base = `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}__SERVICES__}
users:
  alice: {password: "${hash(randomPassword())}"}
acl:
  - match: {account: alice}
    actions: [pull, push]
`;
  const oldFile = join(tmp.dir, 'services-old.yml');
  const newFile = join(tmp.dir, 'services-new.yml');
  writeFileSync(oldFile, base.replace('__SERVICES__', ''));
  writeFileSync(newFile, base.replace('__SERVICES__', ', services: [registry.new]'));
  const audit = join(tmp.dir, 'services-audit.log');
  writeFileSync(
    audit,
    `${JSON.stringify({
      msg: 'token issued',
      account: 'alice',
      client: { ip: '10.0.0.1' },
      service: 'registry.old',
      authenticator: 'users',
      decisions: [{ scope: 'repository:alice/app:pull,push', granted: ['pull', 'push'], rule: 0 }],
    })}\n`,
  );
  const run = await regauth(['replay', '--audit', audit, '-c', newFile, '--against', oldFile]);
  expect(run.code).toBe(1);
  expect(run.stdout).toContain('acl[0] -> service refused (token.services)');
  const json = await regauth(['replay', '--audit', audit, '-c', newFile, '--against', oldFile, '--json']);
  const report = JSON.parse(json.stdout) as ReplayReport;
  expect(changed(report)).toEqual([['alice', 'repository:alice/app:pull,push', 'pull,push', '', 1]]);
});
