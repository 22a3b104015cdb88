import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { auditLine } from '../helpers/audit-line.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * `regauth replay` gates a deployment: exit 1 when a decision changes, 0 when none does. Found by
 * a review of the operator tools (note of stop 46): a run that re-decided nothing passed too. A
 * log piped from `journalctl -o short` (every line prefixed with a date and host, so not JSON), a
 * file of server messages only, or decisions none of which could be decided again (labels only a
 * directory knows) all printed "no decision changes", exit 0: the gate passed on nothing. Such a
 * run is now exit 2, saying why; the report is printed as before.
 */
const tmp = tempDir('regauth-tools-replay-nothing-');
afterAll(() => tmp.cleanup());

let configFile = '';
let ldapFile = '';

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const head = `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.test]}
users:
  alice: {password: "${hash('alice-pw-1')}"}
`;
  configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `${head}acl:
  - match: {account: "/.+/", name: "\${account}/**"}
    actions: ["*"]
`,
  );
  writeFileSync(join(tmp.dir, 'ldap-bind-pw'), 'x');
  ldapFile = join(tmp.dir, 'ldap.yml');
  writeFileSync(
    ldapFile,
    `${head}ldap_auth: {addr: "ldap.example.org:389", bind_dn: "cn=svc,dc=example,dc=org", bind_password_file: ldap-bind-pw, base: "dc=example,dc=org", filter: "(uid=\${account})"}
acl:
  - match: {labels: {group: devs}, name: "team/**"}
    actions: [pull]
`,
  );
});

function replay(log: string, config = configFile, ...extra: string[]) {
  const file = join(tmp.dir, `audit-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(file, log);
  return regauth(['replay', '--audit', file, '-c', config, ...extra]);
}

test('a log of audit lines with decisions: exit 0 when nothing changes (sanity)', async () => {
  const run = await replay(`${auditLine()}\n${auditLine({ requestId: 'r2' })}\n`);
  expect(run.stdout).toContain('no decision changes');
  expect(run.code).toBe(0);
});

test('every line prefixed as journalctl -o short prints it: exit 2, not a pass', async () => {
  const run = await replay(
    `Dec 03 10:00:00 host regauth[42]: ${auditLine()}\nDec 03 10:00:01 host regauth[42]: ${auditLine()}\n`,
  );
  expect(run.stdout).toContain('malformed: 2 lines');
  expect(run.stderr).toContain('nothing was re-decided');
  expect(run.stderr).toContain('2 malformed');
  expect(run.code).toBe(2);
});

test('server messages only: exit 2', async () => {
  const message = JSON.stringify({ level: 30, time: '2026-12-03T10:00:00.000Z', msg: 'listening' });
  const run = await replay(`${message}\n${message}\n`, configFile, '--json');
  // The report is printed as before.
  expect(JSON.parse(run.stdout)).toMatchObject({ lines: 2, requests: 0, skipped: 2 });
  expect(run.stderr).toContain('nothing was re-decided');
  expect(run.code).toBe(2);
});

test('an empty log: exit 2', async () => {
  const run = await replay('');
  expect(run.stderr).toContain('nothing was re-decided');
  expect(run.code).toBe(2);
});

test('decisions none of which can be decided again: exit 2, naming them as not re-decided', async () => {
  const line = auditLine({
    account: 'dave',
    authenticator: 'ldap_auth',
    requested: ['repository:team/app:pull'],
    granted: ['repository:team/app:pull'],
    decisions: [{ scope: 'repository:team/app:pull', granted: ['pull'], rule: 0 }],
  });
  const run = await replay(`${line}\n`, ldapFile);
  expect(run.stdout).toContain('not re-decided: 1 decision');
  expect(run.stderr).toContain('nothing was re-decided');
  expect(run.code).toBe(2);
});

test('one decision re-decided among malformed lines and undecidable ones: judged on that one', async () => {
  const dave = auditLine({
    account: 'dave',
    authenticator: 'ldap_auth',
    requested: ['repository:team/app:pull'],
    granted: ['repository:team/app:pull'],
    decisions: [{ scope: 'repository:team/app:pull', granted: ['pull'], rule: 0 }],
  });
  const alice = auditLine({
    requested: ['repository:team/app:pull'],
    granted: [],
    decisions: [{ scope: 'repository:team/app:pull', granted: [], rule: null }],
  });
  const run = await replay(`not json\n${dave}\n${alice}\n`, ldapFile);
  expect(run.stdout).toContain('no decision changes');
  expect(run.stderr).not.toContain('nothing was re-decided');
  expect(run.code).toBe(0);
});

// Found by a review of e8be6d6: a log of logins only (docker login asks for no scope) was told
// "no audit line of a token request", though it held several.
test('token requests that asked for no scope: exit 2, saying so', async () => {
  const login = auditLine({ requested: [], granted: [], decisions: [] });
  const run = await replay(`${login}\n${login}\n`);
  expect(run.stderr).toContain('nothing was re-decided: 2 token requests read, none asking for a scope');
  expect(run.code).toBe(2);
});
