import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { decodeJwt } from 'jose';
import { regauth } from '../helpers/cli.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js';

/**
 * Found by an adversarial review of `regauth who-can`.
 *
 * who-can leaves out the "<backend> accounts:" line of a rule whose `account` is the literal name
 * of a static account (namesOnlyStaticAccounts: "no other backend's account can be covered"),
 * so the operator reads that the rule covers that one static user and nobody else. That holds
 * for ext_auth, ldap_auth and oidc_auth, which come after `users:` in the chain. It does not hold
 * for jwt_auth: a CI token of a listed issuer goes to jwt_auth alone, "whatever the backends
 * before it" (docs/backends/ci-identity.md), and jwt_auth names the account after the token's
 * `account_claim`. A CI job whose claim equals the static name (`actor: deployer`, a GitHub user
 * of the organisation called `deployer`) logs in as `deployer` and is granted what the rule
 * grants the static break-glass user, with its own (jwt) labels. Asked "who can push to
 * prod/api?", who-can says: only the static account deployer.
 */
const AUDIENCE = 'registry.test';
const tmp = tempDir('regauth-review-whocan-jwt-');
let issuer: TestIssuer;
let s: TestServer;
const configFile = join(tmp.dir, 'config.yml');

beforeAll(async () => {
  issuer = await startTestIssuer();
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  deployer: {password: "${hash(randomPassword())}"}
jwt_auth:
  issuers:
    - issuer: ${issuer.url}
      audience: ${AUDIENCE}
      account_claim: actor
      required_claims: {repository_owner: [acme]}
acl:
  - match: {account: deployer, name: "prod/**"}
    actions: [pull, push]
    comment: the static break-glass deployer
`,
  });
});
afterAll(async () => {
  await s.server.close(100);
  await issuer.stop();
  tmp.cleanup();
});

test('a CI job whose account claim is "deployer" is granted push on prod/api by the token endpoint (sanity)', async () => {
  const ciToken = await issuer.sign({ aud: AUDIENCE, actor: 'deployer', repository_owner: 'acme' });
  const res = await fetch(`${s.url}/auth?service=registry&scope=repository:prod/api:push`, {
    headers: { authorization: basic('deployer', ciToken) },
  });
  expect(res.status).toBe(200);
  const { token } = (await res.json()) as { token: string };
  expect(decodeJwt(token).access).toEqual([{ type: 'repository', name: 'prod/api', actions: ['push'] }]);
});

test('who-can says jwt_auth accounts are covered by the rule on account "deployer"', async () => {
  const run = await regauth(['who-can', 'repository:prod/api:push', '-c', configFile, '--json']);
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as { rules: { path: string; others: string | null }[] };
  const rule = report.rules.find((r) => r.path === 'acl[0]')!;
  // Today: null ("the rule names only static accounts"), and the text prints no jwt_auth line.
  expect(rule.others).not.toBeNull();
  const text = await regauth(['who-can', 'repository:prod/api:push', '-c', configFile]);
  expect(text.stdout).toContain('jwt_auth accounts:');
});
