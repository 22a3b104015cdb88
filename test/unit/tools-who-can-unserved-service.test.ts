import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by an adversarial review of `regauth who-can`.
 *
 * With `token.services` set, the token endpoint answers 400 for any other service, before any
 * rule (docs/cli.md: who-can itself refuses such a `--service`, "as the token endpoint refuses
 * it"). Without `--service`, who-can still lists a rule on a service that token.services does
 * not list as one "that can decide" the scope, and lists static accounts under it as granted:
 * "acl[0]: grants push; when: for service "registry.old"; static accounts: alice (for service
 * "registry.old")". No token request for that service is ever served, so the rule never grants
 * anyone anything. After a move to a new registry name, an operator asking "who can push to
 * prod/api?" is told alice can (through the old service), and that the rule still matters.
 */
const tmp = tempDir('regauth-review-whocan-unserved-');
afterAll(() => tmp.cleanup());
let configFile = '';
let oneServiceFile = '';

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.new]}
users:
  alice: {password: "${hash(randomPassword())}"}
acl:
  - match: {service: registry.old, name: "prod/**"}
    actions: [pull, push]
    comment: the old registry's deployers
`,
  );
  oneServiceFile = join(tmp.dir, 'one-service.yml');
  writeFileSync(
    oneServiceFile,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.new]}
users:
  alice: {password: "${hash(randomPassword())}"}
acl:
  - match: {service: registry.new, name: "prod/**"}
    actions: []
    comment: prod is read-only on this registry
  - match: {name: "prod/**"}
    actions: [pull, push]
`,
  );
});

test('the endpoint serves no token for registry.old, and grants alice nothing for registry.new (sanity)', async () => {
  const args = ['check', '-c', configFile, '--account', 'alice', '--scope', 'repository:prod/api:push'];
  const old = await regauth([...args, '--service', 'registry.old']);
  expect(old.code).toBe(2);
  expect(old.stderr).toContain('not in token.services');
  const current = await regauth([...args, '--service', 'registry.new', '--json']);
  expect(JSON.parse(current.stdout)).toMatchObject({ granted: [], rule: null });
});

test('who-can does not list alice as granted through a rule on a service the endpoint refuses', async () => {
  const run = await regauth(['who-can', 'repository:prod/api:push', '-c', configFile, '--json']);
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as {
    rules: { path: string; accounts: { account: string }[] }[];
    undecided: string[];
  };
  // Today: acl[0] is listed, with alice (for service "registry.old").
  expect(report.rules.flatMap((r) => r.accounts.map((a) => `${r.path} ${a.account}`))).toEqual([]);
  expect(report.undecided).toEqual(['alice']);
});

test('with one served service, alice is denied push on every request the endpoint serves (sanity)', async () => {
  const run = await regauth([
    'check',
    '-c',
    oneServiceFile,
    '--account',
    'alice',
    '--scope',
    'repository:prod/api:push',
    '--json',
  ]);
  expect(JSON.parse(run.stdout)).toMatchObject({ granted: [], rule: { index: 0 } });
});

test('who-can does not say the later grant decides for alice "always"', async () => {
  const run = await regauth(['who-can', 'repository:prod/api:push', '-c', oneServiceFile, '--json']);
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as {
    rules: { path: string; shadowedBy: unknown; accounts: { account: string }[] }[];
  };
  // Today: acl[1] "grants push, when: always", static accounts: alice.
  const granting = report.rules.filter((r) => r.path === 'acl[1]' && r.shadowedBy === null);
  expect(granting.flatMap((r) => r.accounts.map((a) => a.account))).toEqual([]);
});

test('with several served services, a rule on none of them is left out; one on a listed service stays a condition', async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const file = join(tmp.dir, 'several.yml');
  writeFileSync(
    file,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.a, registry.b]}
users:
  alice: {password: "${hash(randomPassword())}"}
acl:
  - match: {service: registry.old, name: "prod/**"}
    actions: [pull, push]
  - match: {service: "registry.{a,old}", name: "prod/**"}
    actions: [pull, push]
`,
  );
  const run = await regauth(['who-can', 'repository:prod/api:push', '-c', file, '--json']);
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as {
    service: string | null;
    rules: { path: string; conditions: string[]; accounts: { account: string; when: string[] }[] }[];
  };
  expect(report.service).toBeNull();
  expect(report.rules.map((r) => r.path)).toEqual(['acl[1]']);
  expect(report.rules[0]!.accounts.map((a) => a.account)).toEqual(['alice']);
  expect(report.rules[0]!.conditions).toEqual(['for a service matching registry.{a,old}']);
});
