import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

/**
 * Found by an adversarial review. A new config that gives the anonymous entry a password
 * (`"": {password: …}`, to close anonymous pulls) makes the token endpoint answer every request
 * without credentials 401 ("password required"); `check --account ''` and `test` say so
 * (anonymousRefused). replay re-decides the recorded anonymous pulls with the ACL and `""`'s
 * labels as if it still logged in: "no decision changes", exit 0.
 */
const tmp = tempDir('regauth-review-tools6-anon-');
afterAll(() => tmp.cleanup());

const config =
  (anonymous: string) =>
  ({ keyPath, certPath }: { keyPath: string; certPath: string }) =>
    `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.test]}
users:
  "": ${anonymous}
acl:
  - match: {account: "", name: "public/**"}
    actions: [pull]
`;
const OPEN = '{}';
const CLOSED = `{password: "${hash('anonymous-closed-1')}"}`;

let audit = '';
let oldFile = '';
let newFile = '';
let newServerStatus = 0;

const ask = async (url: string) => {
  const res = await fetch(`${url}/auth?service=registry.test&scope=repository:public/base:pull`);
  await res.arrayBuffer();
  return res.status;
};

beforeAll(async () => {
  const old = await startTestServer({ dir: tmp.dir, file: 'old.yml', config: config(OPEN) });
  try {
    expect(await ask(old.url)).toBe(200);
  } finally {
    await old.server.close(100);
  }
  const lines = old.logs
    .join('')
    .split('\n')
    .filter((l) => l.includes('"decisions"'));
  expect(lines).toHaveLength(1);
  audit = join(tmp.dir, 'audit.log');
  writeFileSync(audit, `${lines[0]!}\n`);
  oldFile = join(tmp.dir, 'old.yml');
  const now = await startTestServer({ dir: tmp.dir, file: 'new.yml', config: config(CLOSED) });
  try {
    newServerStatus = await ask(now.url);
  } finally {
    await now.server.close(100);
  }
  newFile = join(tmp.dir, 'new.yml');
});

test('the new config refuses the anonymous request, and check says so (sanity)', async () => {
  expect(newServerStatus).toBe(401);
  const check = await regauth([
    'check',
    '-c',
    newFile,
    '--account',
    '',
    '--scope',
    'repository:public/base:pull',
  ]);
  expect(check.code).toBe(1);
});

// The audit line does not say whether the request sent a password (a "" entry without one takes
// any), so such a decision is listed as not re-decided, with why, never passed as unchanged.
const WHY =
  'the "" account takes a password now: requests without credentials get 401, and the audit line does not say whether these sent one';

test('replay does not re-decide the anonymous pull as if it still logged in, and says why', async () => {
  const run = await regauth(['replay', '--audit', audit, '-c', newFile, '--json']);
  const report = JSON.parse(run.stdout) as {
    changes: unknown[];
    undetermined: { account: string; reason: string }[];
  };
  expect(report.changes).toEqual([]);
  expect(report.undetermined.map((u) => [u.account, u.reason])).toEqual([['', WHY]]);
});

test('--against the old config: the same', async () => {
  const run = await regauth(['replay', '--audit', audit, '-c', newFile, '--against', oldFile]);
  expect(run.stdout).toContain('not re-decided: 1 decision');
  expect(run.stdout).toContain(WHY);
});

test('a config with no "" entry at all: the anonymous pull loses access, exit 1', async () => {
  const none = join(tmp.dir, 'none.yml');
  writeFileSync(none, readFileSync(newFile, 'utf8').replace(/users:\n {2}"": .*\n/, ''));
  const run = await regauth(['replay', '--audit', audit, '-c', none, '--json']);
  const report = JSON.parse(run.stdout) as { changes: { account: string; lost: string[] }[] };
  expect(report.changes.map((c) => [c.account, c.lost])).toEqual([['', ['pull']]]);
  expect(run.code).toBe(1);
});

// Found by a reread of goneAccount beside check's anonymousRefused: with ext_auth configured too,
// the "" entry that takes a password still answers first (users: before ext_auth) and refuses a
// request without credentials; replay let the ACL decide as if it logged in.
test('with ext_auth beside the passworded "" entry: still not re-decided, and said why', async () => {
  const withExt = join(tmp.dir, 'with-ext.yml');
  writeFileSync(withExt, `${readFileSync(newFile, 'utf8')}ext_auth: {command: /bin/true}\n`);
  const run = await regauth(['replay', '--audit', audit, '-c', withExt, '--json']);
  const report = JSON.parse(run.stdout) as { undetermined: { account: string; reason: string }[] };
  expect(report.undetermined.map((u) => [u.account, u.reason])).toEqual([['', WHY]]);
});
