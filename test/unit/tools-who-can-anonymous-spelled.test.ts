import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by a review of the operator tools. `regauth who-can`'s text report writes the anonymous
 * account `""` as `(anonymous)`, and every other static account as it is spelled
 * (src/tools/who-can.ts formatWhoCan). `(anonymous)` is a valid account name (no whitespace,
 * control or invisible character: docs/http-api.md "Account names"; `validate` says nothing),
 * so a static user named `(anonymous)` prints exactly like the anonymous account: below, the
 * report says "(anonymous)" under the rule that denies push and again under the rule that grants
 * it, and nobody reading it can tell that anonymous requests may NOT push while the account
 * `(anonymous)` may.
 *
 * docs/cli.md "`regauth who-can`" lists static accounts "by name", the anonymous `""` as
 * `(anonymous)`. The other verbs already guard against this very spelling: replay's `shown()`
 * quotes a name equal to `(anonymous)`, and `regauth test` (describeExpectation) quotes "one
 * spelled `(anonymous)`". who-can does not.
 *
 * Suggested fix: in formatWhoCan, print a name that could be misread (`(anonymous)`, one with a
 * quote or backslash) quoted with quoteAccount, as describeExpectation and replay do.
 */
const tmp = tempDir('regauth-review-who-can-anon-name-');
let configFile = '';

beforeAll(async () => {
  const k = await writeSigningKey(tmp.dir);
  configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `token: {issuer: t, key: ${k.keyPath}, certificate: ${k.certPath}}
users:
  "": {}
  "(anonymous)": {password: "${hash('pw-of-the-named-account')}"}
acl:
  - match: {account: "", name: "public/*"}
    actions: [pull]
    comment: anonymous pulls public
  - match: {account: "/^[(]/", name: "public/*"}
    actions: [pull, push]
    comment: the named account pushes
`,
  );
});
afterAll(() => tmp.cleanup());

test('the anonymous account and an account named "(anonymous)" are told apart', async () => {
  const run = await regauth(['who-can', '-c', configFile, 'repository:public/x:push']);
  expect(run.code, run.stderr).toBe(0);
  const listed = run.stdout
    .split('\n')
    .filter((l) => l.startsWith('  static accounts: '))
    .map((l) => l.slice('  static accounts: '.length));
  // One line for acl[0] (the anonymous account, denied) and one for acl[1] (the named one).
  expect(listed).toHaveLength(2);
  expect(listed[0]).not.toBe(listed[1]);
});
