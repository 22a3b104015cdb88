import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { peopleDirectory } from '../helpers/fake-ldap.js';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review of 44359cd. Its premise: `regauth test`/`check` decide "exactly as the token endpoint
 * would", and an anonymous request the endpoint answers 401 must be granted nothing. The fix
 * (check.ts anonymousRefused) only applies when *no* online backend is configured. But the
 * anonymous account is never an LDAP account (src/authn/ldap/authenticator.ts: `account === ''`
 * → no_match), and jwt_auth / oidc_auth answer no_match without a password: with ldap_auth (the
 * most common deployment) and no `""` user, the endpoint answers every anonymous request 401,
 * while `test` still passes `expect: [pull]` for the anonymous account and `check --account ''`
 * still reports the grant. Only ext_auth can authenticate an anonymous request.
 */
const tmp = tempDir('regauth-anon-ldap-');
let srv: TestServer;
let configFile = '';
let testsFile = '';

beforeAll(async () => {
  const people = peopleDirectory(tmp.dir, [
    { uid: 'alice', mail: 'alice@example.org', password: randomPassword() },
  ]);
  srv = await startTestServer({
    dir: tmp.dir,
    runtimeDeps: { ldapClient: people.directory.factory },
    config: (
      k,
    ) => `token: {issuer: acme, key: ${k.keyPath}, certificate: ${k.certPath}, services: [registry.test]}
${people.section}acl:
  - match: {account: "", name: "public/**"}
    actions: [pull]
`,
  });
  configFile = join(tmp.dir, 'config.yml');
  testsFile = join(tmp.dir, 'policy-tests.yml');
  writeFileSync(testsFile, `- {account: "", scope: "repository:public/base:pull", expect: [pull]}\n`);
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

test('the server refuses anonymous requests with ldap_auth and no "" user (sanity)', async () => {
  const res = await fetch(`${srv.url}/auth?service=registry.test&scope=repository:public/base:pull`);
  await res.arrayBuffer();
  expect(res.status).toBe(401);
});

test('regauth test does not pass an anonymous expectation the endpoint never grants (ldap_auth only)', async () => {
  const run = await regauth(['test', '-c', configFile, testsFile]);
  expect(run.stdout + run.stderr).toContain('granted [], expected [pull]');
  expect(run.code).toBe(1);
});

test('regauth check --account "" does not report a grant the endpoint refuses (ldap_auth only)', async () => {
  const run = await regauth([
    'check',
    '-c',
    configFile,
    '--account',
    '',
    '--scope',
    'repository:public/base:pull',
    '--json',
  ]);
  expect({ code: run.code, stdout: run.stdout }).toMatchObject({ code: 1 });
  expect(run.stdout).not.toContain('"granted":["pull"]');
});
