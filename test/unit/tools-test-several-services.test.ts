import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by an adversarial review. docs/cli.md "Which service `check` and `test` use": without a
 * service, "the one service token.services lists … When it lists several, `check` exits 2 and
 * asks for `--service`". `test` instead decides such an expectation for the service `""`, which
 * the token endpoint refuses (400): nothing is granted, so every expectation of a denial
 * (`expect: []`) passes whatever the ACL says. A policy file of "mallory may not push to prod"
 * checks passes, exit 0, against an ACL that lets mallory push to prod on every service.
 */
const tmp = tempDir('regauth-review-tools6-services-');
afterAll(() => tmp.cleanup());

let configFile = '';
let testsFile = '';

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.a, registry.b]}
users:
  mallory: {password: "${hash('mallory-pw-1')}"}
acl:
  - match: {account: mallory, name: "prod/**"}
    actions: [pull, push]
    comment: the mistake the policy test is there to catch
`,
  );
  testsFile = join(tmp.dir, 'policy-tests.yml');
  writeFileSync(testsFile, `- {account: mallory, scope: 'repository:prod/api:push', expect: []}\n`);
});

test('the ACL grants mallory push on each listed service (sanity)', async () => {
  for (const service of ['registry.a', 'registry.b']) {
    const run = await regauth([
      'check',
      '-c',
      configFile,
      '--account',
      'mallory',
      '--scope',
      'repository:prod/api:push',
      '--service',
      service,
      '--json',
    ]);
    expect(JSON.parse(run.stdout)).toMatchObject({ granted: ['push'] });
  }
});

test('an expectation without service: in a config listing several services does not pass', async () => {
  const run = await regauth(['test', '-c', configFile, testsFile]);
  // Refused as check refuses it (exit 2, asking for service:), or failed (exit 1): never a pass.
  expect(run.stdout).not.toContain('1 passed, 0 failed');
  expect(run.code).not.toBe(0);
});
