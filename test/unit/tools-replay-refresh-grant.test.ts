import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

/**
 * Found by an adversarial review. The audit line of a refresh grant (`grant: "refresh_token"`,
 * `refreshToken: "used"`) holds decisions like a password login's, and replay re-decides them by
 * the ACL alone. A new config without `token.refresh` refuses every refresh grant (401
 * invalid_grant: "refresh tokens are disabled"), so every client logged in with a refresh token
 * (docker's identity token) loses access; replay says "no decision changes", exit 0, as it did
 * for a service token.services no longer lists before that was fixed.
 */
const tmp = tempDir('regauth-review-tools6-refresh-');
afterAll(() => tmp.cleanup());

const password = randomPassword();
let secretFile = '';
const config =
  (refresh: boolean) =>
  ({ keyPath, certPath }: { keyPath: string; certPath: string }) =>
    `server: {addr: "127.0.0.1:0"}
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [registry.test]
${refresh ? `  refresh:\n    secret_file: ${secretFile}\n` : ''}users:
  alice: {password: "${hash(password)}"}
acl:
  - match: {account: alice}
    actions: [pull]
`;

let audit = '';
let oldFile = '';
let newFile = '';
let newServerStatus = 0;

async function refreshGrant(url: string, token: string): Promise<number> {
  const res = await fetch(`${url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=refresh_token&service=registry.test&client_id=docker&scope=${encodeURIComponent('repository:alice/app:pull')}&refresh_token=${encodeURIComponent(token)}`,
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  secretFile = join(tmp.dir, 'refresh.key');
  writeFileSync(secretFile, randomBytes(48).toString('base64'));
  const old = await startTestServer({ dir: tmp.dir, file: 'old.yml', config: config(true) });
  let token = '';
  try {
    const login = await fetch(`${old.url}/auth?service=registry.test&offline_token=true&client_id=docker`, {
      headers: { authorization: basic('alice', password) },
    });
    token = ((await login.json()) as { refresh_token: string }).refresh_token;
    expect(typeof token).toBe('string');
    expect(await refreshGrant(old.url, token)).toBe(200);
  } finally {
    await old.server.close(100);
  }
  const lines = old.logs
    .join('')
    .split('\n')
    .filter((l) => l.includes('"grant":"refresh_token"'));
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!)).toMatchObject({
    refreshToken: 'used',
    decisions: [{ scope: 'repository:alice/app:pull', granted: ['pull'] }],
  });
  audit = join(tmp.dir, 'audit.log');
  writeFileSync(audit, `${lines[0]!}\n`);
  oldFile = join(tmp.dir, 'old.yml');

  // The same refresh grant against a server running the new config.
  const now = await startTestServer({ dir: tmp.dir, file: 'new.yml', config: config(false) });
  try {
    newServerStatus = await refreshGrant(now.url, token);
  } finally {
    await now.server.close(100);
  }
  newFile = join(tmp.dir, 'new.yml');
});

test('the server running the new config refuses the refresh grant (sanity)', () => {
  expect(newServerStatus).toBe(401);
});

test('replay reports the refresh grant that loses access, exit 1', async () => {
  const run = await regauth(['replay', '--audit', audit, '-c', newFile, '--json']);
  const report = JSON.parse(run.stdout) as { changes: { lost: string[] }[] };
  expect(report.changes.map((c) => c.lost)).toEqual([['pull']]);
  expect(run.code).toBe(1);
});

test('--against the old config: the same change', async () => {
  const run = await regauth(['replay', '--audit', audit, '-c', newFile, '--against', oldFile]);
  expect(run.code).toBe(1);
  expect(run.stdout).not.toContain('no decision changes');
});
