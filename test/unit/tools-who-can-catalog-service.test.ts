import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by an adversarial review of 3d65f2b ("Decide who-can for the services the token endpoint
 * serves").
 *
 * Without --service, who-can now assumes the one service token.services lists, "as check assumes
 * it (the endpoint serves no other)" (docs/cli.md). With `catalog:` set the endpoint serves
 * another: the filtered catalog's `catalog.service`, which load requires to differ from every
 * token.services entry and which refusedService accepts (`check --service regauth-catalog`
 * decides it; so does who-can --service regauth-catalog). The fix counts that service only when
 * token.services lists several (unservedRules); with one listed, a rule on `service:
 * regauth-catalog` is left out as if it could never decide, and a rule on the listed service is
 * said to decide "always", shadowing later rules that do decide catalog-service requests.
 * The same ACL with a second listed service gets the opposite answer (the rule is listed, as
 * "for service "regauth-catalog""), so adding an unrelated service to token.services changes
 * who-can's answer about this scope.
 * Expected: with `catalog:` set, rules on the catalog's service stay listed (as conditions), and
 * a rule on the listed service does not shadow a later rule that decides the catalog's requests.
 */
const tmp = tempDir('regauth-review-tools2-catalog-svc-');
afterAll(() => tmp.cleanup());
let oneFile = '';
let twoFile = '';

const acl = `acl:
  - match: {service: registry.test, name: "prod/**"}
    actions: []
    comment: no prod on the registry
  - match: {service: regauth-catalog, name: "prod/**"}
    actions: [pull]
    comment: the catalog's prod grant
`;

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const config = (
    services: string,
  ) => `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [${services}]}
users:
  alice: {password: "${hash(randomPassword())}"}
catalog:
  registry_url: http://127.0.0.1:5000
  realm: http://h/auth
  registry_service: registry.test
${acl}`;
  oneFile = join(tmp.dir, 'one.yml');
  writeFileSync(oneFile, config('registry.test'));
  twoFile = join(tmp.dir, 'two.yml');
  writeFileSync(twoFile, config('registry.test, registry.other'));
});

test('the endpoint serves regauth-catalog and grants alice pull there by acl[1] (sanity)', async () => {
  const run = await regauth([
    'check',
    '-c',
    oneFile,
    '--account',
    'alice',
    '--scope',
    'repository:prod/api:pull',
    '--service',
    'regauth-catalog',
    '--json',
  ]);
  expect(run.code, run.stderr).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ granted: ['pull'], rule: { index: 1 } });
});

test('with two listed services, who-can lists acl[1] with alice (for service "regauth-catalog") (sanity)', async () => {
  const run = await regauth(['who-can', 'repository:prod/api:pull', '-c', twoFile, '--json']);
  expect(run.code, run.stderr).toBe(0);
  const report = JSON.parse(run.stdout) as {
    rules: { path: string; shadowedBy: unknown; accounts: { account: string }[] }[];
  };
  const rule = report.rules.find((r) => r.path === 'acl[1]');
  expect(rule?.shadowedBy).toBeNull();
  expect(rule?.accounts.map((a) => a.account)).toEqual(['alice']);
});

test('with one listed service and catalog:, who-can still lists acl[1], which decides for the catalog service', async () => {
  const run = await regauth(['who-can', 'repository:prod/api:pull', '-c', oneFile, '--json']);
  expect(run.code, run.stderr).toBe(0);
  const report = JSON.parse(run.stdout) as {
    rules: { path: string; shadowedBy: unknown; conditions: string[]; accounts: { account: string }[] }[];
  };
  // Today: only acl[0] is listed ("denies", when: always); acl[1] is left out.
  const rule = report.rules.find((r) => r.path === 'acl[1]');
  expect(rule, JSON.stringify(report.rules.map((r) => r.path))).toBeDefined();
  expect(rule!.shadowedBy).toBeNull();
  expect(rule!.accounts.map((a) => a.account)).toEqual(['alice']);
  // acl[0] decides only for registry.test: not "always".
  expect(report.rules.find((r) => r.path === 'acl[0]')!.conditions).not.toEqual([]);
});
