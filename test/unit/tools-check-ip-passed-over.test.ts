import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Every request the token endpoint decides has a client address, so a rule on `ip` may decide
 * it. `check` without `--ip` and a policy expectation without `ip:` are decided for no address:
 * rules on `ip` match nothing there. Found by a review of the operator tools (note of stop 46):
 * the answer was given silently, so `check` could report "granted: pull" for an account that
 * every client of the office network is denied (or the reverse), and a policy test could pass on
 * a decision no real request gets. They now say which rules on `ip` they passed over.
 */
const tmp = tempDir('regauth-tools-check-ip-');
afterAll(() => tmp.cleanup());

let configFile = '';

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry]}
users:
  alice: {password: "${hash('alice-pw-1')}"}
acl:
  - match: {account: bob}
    actions: ["*"]
  - match: {ip: 10.0.0.0/8, name: "prod/**"}
    actions: []
    comment: no prod from the office
  - match: {account: alice, ip: 192.0.2.7}
    actions: [pull, push]
  - match: {account: alice}
    actions: [pull]
`,
  );
});

function check(...extra: string[]) {
  return regauth(['check', '-c', configFile, '--account', 'alice', ...extra]);
}

test('check without --ip names the rules on ip it passed over, ahead of the deciding rule', async () => {
  const run = await check('--scope', 'repository:prod/api:pull');
  expect(run.code).toBe(0);
  // The decision itself is the one for no address: acl[3].
  expect(run.stdout).toContain('decided: acl[3]');
  expect(run.stderr).toContain('no --ip');
  expect(run.stderr).toContain('acl[1] "no prod from the office" (ip: 10.0.0.0/8)');
  expect(run.stderr).toContain('acl[2] (ip: 192.0.2.7)');
  // acl[0] is on account bob: not a rule on ip, never named.
  expect(run.stderr).not.toContain('acl[0]');
});

test('only rules that would match with an address are named', async () => {
  // acl[1] is on prod/** only: for another repository it is no rule passed over.
  const run = await check('--scope', 'repository:team/api:pull', '--json');
  expect(JSON.parse(run.stdout)).toMatchObject({ granted: ['pull'], rule: { index: 3 } });
  expect(run.stderr).toContain('acl[2] (ip: 192.0.2.7)');
  expect(run.stderr).not.toContain('acl[1]');
});

test('with --ip nothing is said about rules on ip', async () => {
  const run = await check('--scope', 'repository:prod/api:pull', '--ip', '10.1.2.3');
  expect(run.stdout).toContain('decided: acl[1]');
  expect(run.stderr).not.toContain('--ip');
});

test('test names the rules on ip an expectation without ip: passed over, and passes or fails as before', async () => {
  const testsFile = join(tmp.dir, 'policy.yml');
  writeFileSync(
    testsFile,
    `- {account: alice, scope: 'repository:prod/api:pull', expect: [pull]}
- {account: alice, scope: 'repository:prod/api:push', expect: [], ip: 10.9.9.9}
- {account: bob, scope: 'repository:prod/api:push', expect: [push]}
`,
  );
  const run = await regauth(['test', '-c', configFile, testsFile]);
  expect(run.stdout).toContain('3 passed, 0 failed');
  expect(run.code).toBe(0);
  const notes = run.stderr.split('\n').filter((l) => l.startsWith('note:'));
  // Only the first expectation: the second has an address, bob's is decided by acl[0] first.
  expect(notes).toHaveLength(1);
  expect(notes[0]).toContain('[0] (line 1)');
  expect(notes[0]).toContain('acl[1] "no prod from the office" (ip: 10.0.0.0/8)');
  expect(notes[0]).toContain('acl[2] (ip: 192.0.2.7)');
  expect(notes[0]).toContain('ip:');
});
