/**
 * An alias to a mapping that is still open (an anchor on a mapping the alias sits inside).
 * src/config/yaml.ts loadNodes: js-yaml reports the alias as a node closing with the anchored
 * object, which is not yet in `seen`, so readMapping runs on it with no children: it deletes
 * every key the mapping has so far. The mapping's own close is then skipped (`seen`), and js-yaml
 * goes on adding the keys written after the alias. The keys written before the alias vanish
 * without a word:
 *
 * - `alice: &a {password: <hash>, labels: {<<: *a}}` loads alice WITHOUT her password (any
 *   password logs in; plain js-yaml, and docker_auth, keep it), and validate says "ok";
 * - `match: &m {account: alice, labels: {<<: *m}}` loads as `match: {labels: {}}`, a catch-all;
 * - `token: &t {issuer: x, refresh: *t}` is refused as "token.issuer: required", a key that is
 *   written, not for the alias.
 *
 * docs/configuration.md: aliases "work as in docker_auth", and where a reader would read a merge
 * otherwise the config is refused, naming the lines. Found by a review.
 */
import { expect, test } from 'vitest';
import { join } from 'node:path';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { aclRequest, useConfigText } from '../helpers/config.js';

const configs = useConfigText('config-alias-enclosing-');
const HASH = '$2b$04$abcdefghijklmnopqrstuu0ZJ8H0hXb9fWwQ2e8yZ1lqFSFAb9T2u';

test("a merge of a user's own mapping into its labels never drops its password", () => {
  const outcome = configs.outcome(
    `users:
  alice: &a
    password: "${HASH}"
    labels: {<<: *a}
acl: []
`,
    (config) => ({ alicePassword: config.users?.get('alice')?.passwordHash }),
  );
  // Either refused (an alias into the mapping that holds it), or alice keeps her hash.
  expect(outcome).not.toEqual({ alicePassword: undefined });
});

test("a merge of a rule's match into its own labels never turns the rule into a catch-all", () => {
  const outcome = configs.outcome(
    `users: {}
acl:
  - match: &m {account: alice, labels: {<<: *m}}
    actions: ["*"]
`,
    (config) => config.acl.authorize(aclRequest('bob', 'team/app')).granted,
  );
  // bob is not alice: refused, or granted nothing; never everything.
  expect(outcome === 'refused' ? [] : outcome).toEqual([]);
});

test('an alias to its own enclosing mapping is not reported as a written key missing', () => {
  const text = `token: &t
  issuer: x
  key: ${configs.keyPath}
  certificate: ${configs.certPath}
  refresh: *t
users: {}
acl: []
`;
  let messages: string[];
  try {
    loadConfigText(text, { file: join(configs.dir, 'config.yml') });
    messages = [];
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw err;
    messages = err.errors.map((e) => `${e.path}: ${e.message}`);
  }
  expect(messages.length, 'refused').toBeGreaterThan(0);
  // issuer, key and certificate are written: the error is the alias under token.refresh.
  expect(messages.filter((m) => /^token\.(issuer|key|certificate)\b/.test(m))).toEqual([]);
});
