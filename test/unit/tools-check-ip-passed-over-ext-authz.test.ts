import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by a review of "Name the rules on ip that check and test pass over without an address" (75379b6).
 * `regauth check` without `--ip` decides for no client address, so rules on `ip` match nothing;
 * the commit names such rules in a `note: no --ip:` line. But the note is only computed after
 * every scope was decided (src/tools/check.ts checkAccess): when deciding throws, it is never
 * given. That is exactly what the missing address causes with ext_authz: the scopes no rule
 * matches go to ext_authz, and more of them than `ext_authz.max_calls_per_request` is the token
 * endpoint's 400, which check turns into a usage error ("the token endpoint refuses these scopes
 * in one request … check fewer at a time", exit 2).
 *
 * Here a rule on ip (`acl[0]`, the office network) decides both scopes for every office client:
 * no ext_authz call, and the endpoint grants pull on both. Without `--ip` check says the endpoint
 * refuses the request, and tells the operator to split it, when the cause is the address it did
 * not give: the one rule that would have decided is not named, on the one run where it changed
 * the answer most. The same holds when ext_authz, asked only for want of the address, fails
 * (exit 3, "a backend could not answer"): with an office address the command is never run.
 * Expected: the note (or the error) names acl[0] and its `ip`, as it does for a
 * request the ACL or ext_authz decides.
 */
const tmp = tempDir('regauth-review-ip-note-extcalls-');
afterAll(() => tmp.cleanup());

let configFile = '';
let failingFile = '';
const scopes = ['--scope', 'repository:common/a:pull', '--scope', 'repository:common/b:pull'];

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.test]}
users:
  alice: {password: "${hash('alice-pw-1')}"}
ext_authz:
  command: ${resolve('test/fixtures/ext/authz.sh')}
  max_calls_per_request: 1
acl:
  - match: {ip: 10.0.0.0/8, name: "common/**"}
    actions: [pull]
    comment: office pulls common
`,
  );
  // The same ACL, with an ext_authz command that fails (exit 2): the endpoint's 503.
  failingFile = join(tmp.dir, 'failing.yml');
  writeFileSync(
    failingFile,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.test]}
users:
  alice: {password: "${hash('alice-pw-1')}"}
ext_authz:
  command: ${resolve('test/fixtures/ext/exit.sh')}
  args: ["2"]
acl:
  - match: {ip: 10.0.0.0/8, name: "common/**"}
    actions: [pull]
    comment: office pulls common
`,
  );
});

test('with the address, acl[0] decides both scopes and no ext_authz call is needed (sanity)', async () => {
  const run = await regauth(['check', '-c', configFile, '--account', 'alice', ...scopes, '--ip', '10.1.2.3']);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout.match(/decided: acl\[0\]/g)).toHaveLength(2);
});

test('without --ip, the refusal that only the missing address causes names the rule on ip passed over', async () => {
  const run = await regauth(['check', '-c', configFile, '--account', 'alice', ...scopes]);
  // The decision for no address is the endpoint's 400 (exit 2): unchanged.
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('at most 1 per request');
  // But the rule on ip that decides both for every office client must be named.
  expect(run.stderr).toContain('acl[0] "office pulls common" (ip: 10.0.0.0/8)');
});

test('without --ip, an ext_authz failure that only the missing address causes names the rule on ip too', async () => {
  const ok = await regauth([
    'check',
    '-c',
    failingFile,
    '--account',
    'alice',
    '--scope',
    scopes[1]!,
    '--ip',
    '10.1.2.3',
  ]);
  expect(ok.code, ok.stderr).toBe(0);
  const run = await regauth(['check', '-c', failingFile, '--account', 'alice', '--scope', scopes[1]!]);
  expect(run.code).toBe(3);
  expect(run.stderr).toContain('acl[0] "office pulls common" (ip: 10.0.0.0/8)');
});

test('test: an expectation whose ext_authz failure only the missing address causes is named too', async () => {
  const testsFile = join(tmp.dir, 'policy.yml');
  writeFileSync(testsFile, `- {account: alice, scope: 'repository:common/b:pull', expect: [pull]}\n`);
  const run = await regauth(['test', '-c', failingFile, testsFile]);
  expect(run.code).toBe(3);
  expect(run.stderr).toContain('note: [0] (line 1) alice repository:common/b:pull: no ip:');
  expect(run.stderr).toContain('acl[0] "office pulls common" (ip: 10.0.0.0/8)');
});
